package rjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// b64 is the only base64 rjwt reads: base64url without padding, strict (the
// unused low bits of a segment's last character must be zero, RFC 4648 §3.5),
// so that each token has exactly one accepted spelling.
var b64 = base64.RawURLEncoding.Strict()

// canonical reports whether token is free of CR and LF. Go's base64 decoder
// skips them, strict or not, and every other byte outside base64url's
// alphabet already fails decoding on both paths (the fast path compares the
// header's bytes exactly), so these two are all that is left to refuse.
// IndexByte is vectorised: this costs a few nanoseconds per token.
func canonical(token string) bool {
	return strings.IndexByte(token, '\n') < 0 && strings.IndexByte(token, '\r') < 0
}

// hs256Header is the JOSE header rjwt signs with an HS256 key without a kid
// (WithSecret), {"alg":"HS256","typ":"JWT"}, base64url-encoded. Verify
// checks tokens whose header is exactly an HS256 key's own (this one, or with
// the key's kid) on a fast path (below); any other header goes through
// golang-jwt's general parser, with the algorithm pinned to the key's.
const hs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// macState is per-call scratch for signing and verifying: an HMAC-SHA256
// keyed with one HS256 key's secret and buffers, pooled so the hot path does not
// build a new HMAC (two SHA-256 states and key pads) on every call.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
	sig [sha256.Size]byte
}

type macPool struct{ pool sync.Pool }

func newMacPool(secret []byte) *macPool {
	return &macPool{pool: sync.Pool{New: func() any {
		return &macState{mac: hmac.New(sha256.New, secret), buf: make([]byte, 0, 512)}
	}}}
}

func (p *macPool) get() *macState   { return p.pool.Get().(*macState) }
func (p *macPool) put(st *macState) { p.pool.Put(st) }

// mac returns HMAC-SHA256(secret, signed) in st.sum.
func (st *macState) macOf(signed string) []byte {
	st.mac.Reset()
	st.buf = append(st.buf[:0], signed...)
	st.mac.Write(st.buf)
	return st.mac.Sum(st.sum[:0])
}

// signToken encodes claims as a compact JWS signed with the client's signing
// key. It produces exactly what golang-jwt's SignedString does for the same
// header (alg, typ "JWT", and kid when the key has one) and claims, with one
// JSON pass and, for HS256, a pooled HMAC.
func (c *codec) signToken(claims *Claims) (string, error) {
	k := c.signer
	if k == nil {
		return "", fmt.Errorf("%w: this client only verifies (it was given no WithSecret or WithSigningKey)", ErrNoSigningKey)
	}
	payload, err := marshalClaims(claims)
	if err != nil {
		return "", err
	}
	enc := b64
	n := len(k.header) + 1 + enc.EncodedLen(len(payload))
	out := make([]byte, 0, n+1+enc.EncodedLen(k.sigSize))
	out = append(out, k.header...)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)

	if k.macs == nil {
		var sig []byte
		var err error
		if ec, ok := k.sign.(*ecdsa.PrivateKey); ok {
			sig, err = signES256(ec, out)
		} else {
			sig, err = k.method.Sign(string(out), k.sign)
		}
		if err != nil {
			return "", fmt.Errorf("%s: %v", k.alg, err)
		}
		out = append(out, '.')
		return string(enc.AppendEncode(out, sig)), nil
	}
	st := k.macs.get()
	st.mac.Reset()
	st.mac.Write(out)
	sum := st.mac.Sum(st.sum[:0])
	out = append(out, '.')
	out = enc.AppendEncode(out, sum)
	k.macs.put(st)
	return string(out), nil
}

// signES256 signs an ES256 JWS deterministically (RFC 6979; Go's ecdsa
// signs so when given no random source), so that the same claims make the
// same token: a refresh that Redis answers twice (a retry, the grace
// window) rebuilds the very same strings, as with HS256, EdDSA and RS256.
// The signature is R || S, 32 bytes each (RFC 7518 §3.4), with S low
// (canonicalSig: the only spelling Verify accepts).
func signES256(k *ecdsa.PrivateKey, signingInput []byte) ([]byte, error) {
	digest := sha256.Sum256(signingInput)
	der, err := k.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("ecdsa signature: %v", err)
	}
	sig := make([]byte, 64)
	rs.R.FillBytes(sig[:32])
	lowS(rs.S).FillBytes(sig[32:])
	return sig, nil
}

// tokenLen is the length of the token signToken would make of claims,
// without signing (every key's signature has a fixed size).
func (c *codec) tokenLen(claims *Claims) (int, error) {
	k := c.signer
	if k == nil {
		return 0, fmt.Errorf("%w: this client only verifies (it was given no WithSecret or WithSigningKey)", ErrNoSigningKey)
	}
	payload, err := marshalClaims(claims)
	if err != nil {
		return 0, err
	}
	return len(k.header) + 1 + b64.EncodedLen(len(payload)) + 1 + b64.EncodedLen(k.sigSize), nil
}

// parseFast verifies a token whose header is exactly HS256 key k's (so its
// alg and kid are k's, and it has no crit): signature first (constant time),
// then the claims' JSON (dates into dates, see decodeFast), then exp, iat
// and nbf as golang-jwt's validator checks them, so the semantics match the
// general parser's.
func (c *codec) parseFast(k *key, token string, claims *Claims, dates *[3]jwt.NumericDate) error {
	rest := token[len(k.header)+1:]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 || strings.IndexByte(rest[dot+1:], '.') >= 0 {
		return fmt.Errorf("%w: %v: token contains an invalid number of segments", ErrInvalidToken, jwt.ErrTokenMalformed)
	}
	payload, sig := rest[:dot], rest[dot+1:]
	enc := b64

	st := k.macs.get()
	defer k.macs.put(st)
	if enc.DecodedLen(len(sig)) != sha256.Size {
		return fmt.Errorf("%w: %v", ErrInvalidToken, jwt.ErrTokenSignatureInvalid)
	}
	st.buf = append(st.buf[:0], sig...)
	if n, err := enc.Decode(st.sig[:], st.buf); err != nil || n != sha256.Size {
		return fmt.Errorf("%w: %v", ErrInvalidToken, jwt.ErrTokenSignatureInvalid)
	}
	if !hmac.Equal(st.macOf(token[:len(k.header)+1+dot]), st.sig[:]) {
		return fmt.Errorf("%w: %v", ErrInvalidToken, jwt.ErrTokenSignatureInvalid)
	}

	// The signature holds, so the payload is ours; decode it in one pass.
	st.buf = append(st.buf[:0], payload...)
	raw := make([]byte, enc.DecodedLen(len(payload)))
	n, err := enc.Decode(raw, st.buf)
	if err != nil {
		return fmt.Errorf("%w: %v: %v", ErrInvalidToken, jwt.ErrTokenMalformed, err)
	}
	if !claims.decodeFast(raw[:n], dates) {
		if err := claims.UnmarshalJSON(raw[:n]); err != nil {
			return fmt.Errorf("%w: %v: %v", ErrInvalidToken, jwt.ErrTokenMalformed, err)
		}
	}
	if timesValid(&claims.RegisteredClaims, c.clock(), c.leeway) {
		return nil
	}
	if err := c.validator.Validate(claims); err != nil {
		return claimsErr(err)
	}
	return nil
}

// timesValid reports whether golang-jwt's validator, as the client builds it
// (exp required, iat checked, nbf when present, the leeway; no audience,
// issuer or subject, which checkClaims checks), certainly accepts claims
// at now. It is that validator's arithmetic without its allocations (an
// error slice on every call): true only when every check passes, so any
// failure is left to the validator itself, whose error is the one returned.
func timesValid(rc *jwt.RegisteredClaims, now time.Time, leeway time.Duration) bool {
	if rc.ExpiresAt == nil || !now.Before(rc.ExpiresAt.Add(leeway)) {
		return false
	}
	if rc.NotBefore != nil && now.Before(rc.NotBefore.Add(-leeway)) {
		return false
	}
	return rc.IssuedAt == nil || !now.Before(rc.IssuedAt.Add(-leeway))
}

// claimsErr maps golang-jwt's errors to rjwt's sentinels: an expired token is
// ErrTokenExpired and nothing else; every other failure is ErrInvalidToken.
// golang-jwt's error is in the message only, not in the chain: its errors are
// not part of rjwt's API.
func claimsErr(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) {
		return fmt.Errorf("%w: %v", ErrTokenExpired, err)
	}
	return fmt.Errorf("%w: %v", ErrInvalidToken, err)
}

// errCrit is keyFunc's answer to a header with "crit": it names extensions
// the recipient must understand, and rjwt understands none (RFC 7515 §4.1.11).
var errCrit = errors.New(`the header has "crit": rjwt supports no critical header extension`)

// checkHeader refuses what golang-jwt's parser does not check in a header.
func checkHeader(h map[string]any) error {
	if _, ok := h["crit"]; ok {
		return errCrit
	}
	return nil
}
