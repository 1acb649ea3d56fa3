package rjwt

import (
	"context"
	"fmt"
)

// MaxTokenSize is the largest token Verify parses, in bytes (8 KiB). Larger
// tokens are refused with ErrInvalidToken before any decoding.
const MaxTokenSize = 8 << 10

// VerifyOption configures one Verify call.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	session bool
}

// WithSession makes Verify also load the session's private data from Redis
// into Claims.DataSession. It costs the same single round trip.
func WithSession() VerifyOption { return withSession }

func withSession(o *verifyOptions) { o.session = true }

// Verify checks a token and returns its claims. A token verifies only if its
// signature, algorithm (HS256) and expiry are valid AND its session still
// exists in Redis. One Redis round trip.
//
// Errors: ErrInvalidToken (malformed, over MaxTokenSize, bad signature, another
// algorithm or "none"), ErrTokenExpired, ErrSessionNotFound (revoked, replaced
// in single mode, expired in Redis, or its index entry evicted),
// ErrUnavailable (Redis unreachable or slow: never a successful
// verification), or another wrapped Redis error.
//
// Verify only reads: it runs when Redis is out of memory, and a retry of it
// is harmless.
func (c *Client) Verify(ctx context.Context, token string, opts ...VerifyOption) (*Claims, error) {
	var o verifyOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	claims, err := c.parse(token)
	if err != nil {
		return nil, err
	}
	if claims.Type != "" {
		return nil, fmt.Errorf("%w: a %s token is not an access token", ErrInvalidToken, claims.Type)
	}
	var live bool
	var data []byte
	if c.cache != nil {
		live, data, err = c.verifyCached(ctx, claims.ID, claims.RegisteredClaims.ID, claims.Session, o.session)
	} else {
		live, data, err = c.st.Verify(ctx, claims.ID, claims.RegisteredClaims.ID, o.session)
	}
	if err != nil {
		return nil, err
	}
	if !live {
		return nil, fmt.Errorf("%w: %s", ErrSessionNotFound, claims.Session)
	}
	claims.DataSession = data
	return claims, nil
}

// parse checks a token's size, signature, algorithm, expiry and shape,
// without Redis.
func (c *Client) parse(token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrInvalidToken, len(token), MaxTokenSize)
	}
	claims := new(Claims)
	if len(token) > len(hs256Header) && token[len(hs256Header)] == '.' && token[:len(hs256Header)] == hs256Header {
		if err := c.parseFast(token, claims); err != nil {
			return nil, err
		}
	} else if _, err := c.parser.ParseWithClaims(token, claims, c.keyFunc); err != nil {
		return nil, claimsErr(err)
	}
	// A valid signature means rjwt made these claims; check their shape all
	// the same, so a token of another issuer sharing the key cannot pass.
	if validateID(claims.ID) != nil || !validNanoid(claims.RegisteredClaims.ID) || !isSessionOf(claims) {
		return nil, fmt.Errorf("%w: claims are not an rjwt session", ErrInvalidToken)
	}
	return claims, nil
}

// isSessionOf reports whether claims.Session is "ID:jti", without building it.
func isSessionOf(claims *Claims) bool {
	s, id, nano := claims.Session, claims.ID, claims.RegisteredClaims.ID
	return len(s) == len(id)+1+len(nano) && s[:len(id)] == id && s[len(id)] == ':' && s[len(id)+1:] == nano
}
