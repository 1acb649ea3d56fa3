package rjwt

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rjwt/rjwt/internal/jws"
)

// b64 is the only base64 rjwt reads (jws.B64): base64url without padding,
// strict, so that each token has exactly one accepted spelling.
var b64 = jws.B64

// canonical reports whether token is free of CR and LF (jws.Canonical).
func canonical(token string) bool { return jws.Canonical(token) }

// hs256Header is the JOSE header rjwt signs with an HS256 key without a kid
// (WithSecret), {"alg":"HS256","typ":"JWT"}, base64url-encoded. Verify
// checks tokens whose header is exactly an HS256 key's own (this one, or with
// the key's kid) on a fast path (below); any other header goes through
// golang-jwt's general parser, with the algorithm pinned to the key's.
const hs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// signToken encodes claims as a compact JWS signed with the client's signing
// key. It produces exactly what golang-jwt's SignedString does for the same
// header (alg, typ "JWT", and kid when the key has one) and claims, with one
// JSON pass and, for HS256, a pooled HMAC.
func (c *codec) signToken(claims *Claims) (string, error) {
	k, payload, err := c.payload(claims)
	if err != nil {
		return "", err
	}
	return k.Sign(payload)
}

// tokenLen is the length of the token signToken would make of claims,
// without signing (every key's signature has a fixed size).
func (c *codec) tokenLen(claims *Claims) (int, error) {
	k, payload, err := c.payload(claims)
	if err != nil {
		return 0, err
	}
	return k.TokenLen(len(payload)), nil
}

// payload is the signing key and the JSON of claims it signs.
func (c *codec) payload(claims *Claims) (*key, []byte, error) {
	if c.signer == nil {
		return nil, nil, fmt.Errorf("%w: this client only verifies (it was given no WithSecret or WithSigningKey)", ErrNoSigningKey)
	}
	payload, err := marshalClaims(claims)
	return c.signer, payload, err
}

// parseFast verifies a token whose header is exactly HS256 key k's (so its
// alg and kid are k's, and it has no crit): signature first (constant time),
// then the claims' JSON (dates into dates, see decodeFast), then exp, iat
// and nbf as golang-jwt's validator checks them, so the semantics match the
// general parser's.
func (c *codec) parseFast(k *key, token string, claims *Claims, dates *[3]jwt.NumericDate) error {
	raw, err := k.OpenHS256(token)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !claims.decodeFast(raw, dates) {
		if err := claims.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("%w: %v: %v", ErrInvalidToken, jwt.ErrTokenMalformed, err)
		}
	}
	if jws.TimesValid(&claims.RegisteredClaims, c.clock(), c.leeway) {
		return nil
	}
	if err := c.validator.Validate(claims); err != nil {
		return claimsErr(err)
	}
	return nil
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
