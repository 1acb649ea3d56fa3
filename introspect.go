package rjwt

import (
	"context"
	"fmt"

	"github.com/rjwt/rjwt/internal/store"
)

// Introspect reports whether token, an access or a refresh token of this
// client's, is usable now, for token introspection (RFC 7662; see
// rjwthttp.IntrospectionHandler): its signature, algorithm, expiry and
// shape are valid, its session is live, and for a refresh token it is the
// session's current one (not rotated away). It returns the token's claims
// (Claims.Type tells access from refresh; Claims.Confirmation is the key a
// bound token needs). Unlike Verify it needs no DPoP proof for a bound token
// (whoever asks checks the proof against the claims' cnf, RFC 9449 §6.2),
// records no use and reads no session data. One Redis round trip (a
// pipeline of reads).
//
// Errors: as Verify's (ErrInvalidToken, ErrTokenExpired, ErrSessionNotFound
// also for a refresh token rotated away, ErrUnavailable).
func (c *Client) Introspect(ctx context.Context, token string) (*Claims, error) {
	claims, err := c.parse(token)
	if err != nil {
		return nil, err
	}
	if claims.Type != "" && (claims.Type != refreshType || !validNanoid(claims.RefreshID)) {
		return nil, fmt.Errorf("%w: a token of type %q", ErrInvalidToken, claims.Type)
	}
	live, rti, err := c.st.Live(ctx, claims.ID, sessionNano(claims))
	if err != nil {
		return nil, err
	}
	if !live || (claims.Type == refreshType && rti != claims.RefreshID) {
		return nil, fmt.Errorf("%w: %s", ErrSessionNotFound, claims.Session)
	}
	return claims, nil
}

// SessionOf is the session a token of this client's names, checking its
// signature, algorithm and shape but not its times: an expired token still
// names its session, which may live on (a refresh token renews it). For
// revocation (rjwthttp.RevocationHandler, RFC 7009 §2: the token is
// presented to end what it stands for); never a proof that the token is
// usable. No Redis round trip. Errors: ErrInvalidToken.
func (c *Client) SessionOf(token string) (string, error) {
	if len(token) > MaxTokenSize || !canonical(token) {
		return "", fmt.Errorf("%w: not a token of this client's", ErrInvalidToken)
	}
	claims := new(Claims)
	if _, err := c.expired.ParseWithClaims(token, claims, c.keyFunc); err != nil {
		return "", claimsErr(err)
	}
	if store.ValidateID(claims.ID) != nil || !isSessionOf(claims) {
		return "", fmt.Errorf("%w: claims are not an rjwt session", ErrInvalidToken)
	}
	return claims.Session, nil
}
