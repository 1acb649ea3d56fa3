// Package dpop checks DPoP proofs (RFC 9449): the JWT a client signs with
// its own key for each HTTP request, which binds tokens to that key so that
// a copied token is useless without it.
//
// A Checker does every check of RFC 9449 §4.3 that needs no storage; the
// caller keeps what does: the replay set of jti values (for as long as
// Checker.Until says), the key a session is bound to (compare
// Result.JKT), and the server nonce it hands out. The package has no
// Redis and no state.
//
// The signature is verified with crypto/ecdsa, crypto/ed25519 and
// crypto/rsa directly, not through a JOSE library: a proof is one JWS
// with one embedded key of a handful of types, and what must be refused
// (private members, non-canonical encodings, algorithms outside the list,
// a key type that is not the alg's) is most of the work. Measured
// (BenchmarkCheck against BenchmarkGoJose): go-jose's ParseSigned + Verify
// with the embedded key costs as much CPU as all of Check (the signature
// dominates both) and allocates a third more, without any check but the
// signature's; Check would need every check here around it all the same.
package dpop

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// MaxProofSize is the largest proof Check parses, in bytes (8 KiB).
const MaxProofSize = 8 << 10

// MaxJTILen is the longest jti a proof may carry, in bytes.
const MaxJTILen = 256

// Defaults of a Checker's zero fields.
const (
	DefaultMaxAge    = 60 * time.Second
	DefaultMaxFuture = 5 * time.Second
)

// ErrInvalid is every refusal of a proof: errors.Is(err, ErrInvalid) for
// each error Check returns; the message says which check failed.
var ErrInvalid = errors.New("invalid DPoP proof")

// ErrUseNonce is also in the chain of a refusal for a missing or unknown
// nonce (with ErrInvalid): the server answers it with error="use_dpop_nonce"
// and a fresh DPoP-Nonce header (RFC 9449 §8).
var ErrUseNonce = errors.New("the proof must carry the server's current nonce")

func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrInvalid, msg) }

// b64 is the only base64 read here: base64url without padding, strict (the
// unused low bits of the last character zero), as rjwt reads tokens.
var b64 = base64.RawURLEncoding.Strict()

// decode is b64's decoding, refusing the CR and LF it would skip.
func decode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("CR or LF in base64url")
	}
	return b64.DecodeString(s)
}

// DefaultAlgs are the algorithms a Checker accepts when its Algs is nil:
// every one it supports. EdDSA is accepted under both of its names, the
// polymorphic "EdDSA" (RFC 8037) and the fully specified "Ed25519" (RFC
// 9864). Never "none" or an HMAC: a proof must be signed by a key whose
// public half it carries.
var DefaultAlgs = []string{"ES256", "EdDSA", "Ed25519", "ES384", "RS256", "PS256"}

// A Checker checks proofs. Its zero value is ready to use, with the
// defaults below; it is safe for concurrent use once set up.
type Checker struct {
	// MaxAge is how long after its iat a proof is accepted (default
	// DefaultMaxAge, 60 s), MaxFuture how far ahead of the server's clock
	// its iat may be (default DefaultMaxFuture, 5 s); Leeway widens both.
	MaxAge, MaxFuture, Leeway time.Duration
	// Algs are the accepted algorithms, a subset of DefaultAlgs (nil: all).
	Algs []string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Request is what a proof is checked against.
type Request struct {
	Method string // the HTTP method, exactly as received: "POST"
	URL    string // the request's URL as the client addressed it (behind a proxy: the public one)

	// AccessToken, when not empty, is the token presented with the proof:
	// the proof must carry its hash (ath). Empty at a token endpoint (login,
	// refresh), where an ath is not checked.
	AccessToken string
	// Nonce, when not nil, makes a nonce required: the proof's nonce must be
	// one Nonce accepts (else ErrUseNonce).
	Nonce func(nonce string) bool
	// JKT, when not empty, is the thumbprint of the key the token is bound
	// to: the proof must be signed by that key.
	JKT string
}

// Result is what a valid proof says.
type Result struct {
	JKT      string    // RFC 7638 thumbprint (base64url SHA-256) of the proof's key: cnf.jkt
	JTI      string    // the proof's id, for the replay set
	IssuedAt time.Time // the proof's iat
	Alg      string    // the algorithm it is signed with
}

// ATH is the ath claim of a proof presented with accessToken:
// base64url(SHA-256(accessToken)).
func ATH(accessToken string) string { return thumbprint(accessToken) }

// Until is the last instant at which a proof issued at iat is accepted: a
// replay set must remember its jti at least until then.
func (c *Checker) Until(iat time.Time) time.Time {
	return iat.Add(or(c.MaxAge, DefaultMaxAge) + c.Leeway)
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Check checks proof (the request's DPoP header) against r as RFC 9449 §4.3
// says, except for the replay of its jti, which needs storage: one JWS in
// compact form of at most MaxProofSize bytes; typ "dpop+jwt"; an accepted
// asymmetric alg; a public jwk (no private member) of the alg's key type,
// which signs it; htm equal to r.Method; htu equal to r.URL once both are
// normalised (NormalURL); iat within [now − MaxAge − Leeway, now +
// MaxFuture + Leeway]; a jti of 1 to MaxJTILen bytes; ath and nonce as r
// asks. Every refusal is ErrInvalid.
func (c *Checker) Check(proof string, r Request) (Result, error) {
	if r.Method == "" || r.URL == "" {
		return Result{}, invalid("the request to check the proof against has no method or URL")
	}
	if len(proof) > MaxProofSize {
		return Result{}, invalid(fmt.Sprintf("%d bytes is over the %d-byte limit", len(proof), MaxProofSize))
	}
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return Result{}, invalid("not a JWS in compact form (three base64url parts)")
	}
	alg, key, err := c.header(parts[0])
	if err != nil {
		return Result{}, err
	}
	res, err := c.claims(parts[1], r)
	if err != nil {
		return Result{}, err
	}
	if r.JKT != "" && key.jkt != r.JKT {
		return Result{}, invalid("signed by another key than the one the token is bound to")
	}
	sig, err := decode(parts[2])
	if err != nil {
		return Result{}, invalid("the signature is not canonical base64url")
	}
	if err := verify(alg, key, proof[:len(parts[0])+1+len(parts[1])], sig); err != nil {
		return Result{}, err
	}
	res.JKT, res.Alg = key.jkt, alg
	return res, nil
}

// header checks the protected header and returns its alg and key.
func (c *Checker) header(seg string) (string, *publicKey, error) {
	raw, err := decode(seg)
	if err != nil {
		return "", nil, invalid("the header is not canonical base64url")
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(raw, &h); err != nil || h == nil {
		return "", nil, invalid("the header is not a JSON object")
	}
	var typ, alg string
	if json.Unmarshal(h["typ"], &typ) != nil || !strings.EqualFold(typ, "dpop+jwt") {
		return "", nil, invalid(`the header's typ is not "dpop+jwt"`)
	}
	if json.Unmarshal(h["alg"], &alg) != nil || !contains(c.algs(), alg) {
		return "", nil, invalid(fmt.Sprintf("the alg %q is not one of %q", clip(alg), c.algs()))
	}
	if _, ok := h["crit"]; ok {
		return "", nil, invalid(`the header has "crit": no critical extension is supported`)
	}
	jwk, ok := h["jwk"]
	if !ok {
		return "", nil, invalid(`the header has no "jwk"`)
	}
	key, err := parseJWK(jwk)
	if err != nil {
		return "", nil, err
	}
	if want := keyFor(alg); key.kty != want.kty || key.crv != want.crv {
		return "", nil, invalid(fmt.Sprintf("an %s key (%s) cannot sign %s", key.kty, key.crv, alg))
	}
	return alg, key, nil
}

func (c *Checker) algs() []string {
	if c.Algs != nil {
		return c.Algs
	}
	return DefaultAlgs
}

// claims checks the payload against r and the clock.
func (c *Checker) claims(seg string, r Request) (Result, error) {
	raw, err := decode(seg)
	if err != nil {
		return Result{}, invalid("the payload is not canonical base64url")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Result{}, invalid("the payload is not a JSON object")
	}
	jti, htm, htu := claim(m, "jti"), claim(m, "htm"), claim(m, "htu")
	var f float64
	switch {
	case jti == nil || *jti == "" || len(*jti) > MaxJTILen:
		return Result{}, invalid(fmt.Sprintf("the jti is missing, not a string, empty or over %d bytes", MaxJTILen))
	case htm == nil || *htm != r.Method:
		return Result{}, invalid(fmt.Sprintf("the htm is not the request's method %q", clip(r.Method)))
	case htu == nil || !sameURL(*htu, r.URL):
		return Result{}, invalid(fmt.Sprintf("the htu is not the request's URL %q", clip(r.URL)))
	case m["iat"] == nil || json.Unmarshal(m["iat"], &f) != nil:
		return Result{}, invalid("the iat is missing or not a number")
	}
	iat, err := c.checkIAT(f)
	if err != nil {
		return Result{}, err
	}
	if ath := claim(m, "ath"); r.AccessToken != "" && (ath == nil || *ath != ATH(r.AccessToken)) {
		return Result{}, invalid("the ath is missing or not the hash of the access token")
	}
	if nonce := claim(m, "nonce"); r.Nonce != nil && (nonce == nil || !r.Nonce(*nonce)) {
		return Result{}, fmt.Errorf("%w: %w: the nonce is missing or not current", ErrInvalid, ErrUseNonce)
	}
	return Result{JTI: *jti, IssuedAt: iat}, nil
}

// claim is the string claim name of m; nil when it is absent, null or not
// a string. Names are exact (encoding/json's struct decoding would take
// "HTM" for "htm").
func claim(m map[string]json.RawMessage, name string) *string {
	raw, ok := m[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return &s
}

// checkIAT checks a proof's iat, in seconds since 1970 (fractions allowed,
// as in any NumericDate), against the clock.
func (c *Checker) checkIAT(f float64) (time.Time, error) {
	if f < 0 || f > 1e11 {
		return time.Time{}, invalid("the iat is not a time in seconds")
	}
	sec, frac := math.Modf(f)
	iat := time.Unix(int64(sec), int64(frac*1e9))
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	t := now()
	if iat.Before(t.Add(-or(c.MaxAge, DefaultMaxAge) - c.Leeway)) {
		return time.Time{}, invalid(fmt.Sprintf("issued %s ago, over the %s a proof is accepted", t.Sub(iat).Round(time.Second), or(c.MaxAge, DefaultMaxAge)+c.Leeway))
	}
	if iat.After(t.Add(or(c.MaxFuture, DefaultMaxFuture) + c.Leeway)) {
		return time.Time{}, invalid(fmt.Sprintf("issued %s in the future", iat.Sub(t).Round(time.Second)))
	}
	return iat, nil
}

// sameURL compares a proof's htu with the request's URL (NormalURL).
func sameURL(htu, url string) bool {
	a, err := NormalURL(htu)
	if err != nil {
		return false
	}
	b, err := NormalURL(url)
	return err == nil && a == b
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// clip shortens what a proof says before it goes into an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
