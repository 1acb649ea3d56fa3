package rjwt

import (
	"github.com/rjwt/rjwt/internal/jsonfast"
	"github.com/rjwt/rjwt/internal/jws"
	"github.com/rjwt/rjwt/internal/logroute"
	"github.com/rjwt/rjwt/internal/store"
)

// The names the internal tests knew before the machinery moved to internal
// packages.
var (
	redisLog      = logroute.Redis
	lowS          = jws.LowS
	p256HalfOrder = jws.P256HalfOrder
	canonicalSig  = jws.CanonicalSig
	timesValid    = jws.TimesValid
	jsonLen       = jsonfast.Len
	splitSession  = store.SplitSession
)

// macOf is HMAC-SHA256(k's secret, signed), for an HS256 key k.
func macOf(k *key, signed string) []byte {
	out, err := k.AppendSig([]byte(signed))
	if err != nil {
		panic(err)
	}
	sig, err := b64.DecodeString(string(out[len(signed)+1:]))
	if err != nil {
		panic(err)
	}
	return sig
}
