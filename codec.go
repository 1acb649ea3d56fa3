package rjwt

import (
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rjwt/rjwt/internal/jws"
)

// codec is the token side of a client: its keys, the parsers and the
// encoder. It is a value built from the options alone (newCodec): nothing in
// it touches Redis, so parsing and signing tests need no server. Its one
// link to the rest is clock, the time tokens are judged by (the client's:
// Redis's, store.Now).
// key is one signing or verification key (internal/jws).
type key = jws.Key

type codec struct {
	signer    *key     // nil: the client only verifies
	set       *jws.Set // every key, by kid
	parser    *jwt.Parser
	expired   *jwt.Parser // the same without the time checks: SessionOf
	validator *jwt.Validator
	leeway    time.Duration // validator's, for timesValid
	keyFunc   jwt.Keyfunc
	issuer    string   // WithIssuer: required of every token
	audience  []string // WithAudience: one of them required
	clock     func() time.Time
}
