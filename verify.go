package rjwt

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rjwt/rjwt/internal/store"
)

// MaxTokenSize is the largest token Verify parses, in bytes (8 KiB). Larger
// tokens are refused with ErrInvalidToken before any decoding.
const MaxTokenSize = 8 << 10

// VerifyOption configures one Verify call.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	session    bool
	authWithin time.Duration // RequireAuthWithin (authctx.go)
	proof      *Proof        // WithProof (proof.go)
}

// WithSession makes Verify also load the session's private data from Redis
// into Claims.DataSession. It costs the same single round trip.
func WithSession() VerifyOption { return withSession }

func withSession(o *verifyOptions) { o.session = true }

// Verify checks a token and returns its claims. A token verifies only if its
// signature, algorithm (its key's, chosen by kid) and expiry (give or take
// the leeway, WithLeeway) are valid AND its session still
// exists in Redis. One Redis round trip (a pipeline of plain reads), and a
// second when a use must be recorded (below).
//
// Errors: ErrInvalidToken (malformed, over MaxTokenSize, not canonical
// base64url, bad signature, a "crit" header, another algorithm or "none"),
// ErrInvalidProof (a token bound to a DPoP key without a valid proof, see
// WithProof), ErrTokenExpired, ErrSessionNotFound (revoked, replaced in single mode,
// expired in Redis, or its index entry evicted), ErrUnavailable (Redis
// unreachable or slow: never a successful verification), or another wrapped
// Redis error.
//
// Verify also records the use: the session's last use
// (SessionInfo.LastSeen) when the one stored is a minute old, and for a
// session with an idle timeout (WithIdleTimeout) an extension when less
// than half its window is left. The reads find when that is due, and only
// then a second round trip runs a script that checks the session again and
// writes: about once a minute per session in use (or per half idle window),
// on a single node, Sentinel or a Redis Cluster alike. Those writes never
// grow memory, so Verify runs when Redis is out of memory; a retry of it is
// harmless. Where Redis refuses them (a read-only replica; out of memory on
// a Redis that cannot read script flags) Verify answers from its reads and
// records nothing.
func (c *Client) Verify(ctx context.Context, token string, opts ...VerifyOption) (_ *Claims, err error) {
	ctx, call := c.begin(ctx, OpVerify)
	defer func() { c.end(ctx, call, err) }()
	o := applyAll(opts)
	claims, err := c.parse(token)
	if err != nil {
		return nil, err
	}
	if claims.Type != "" {
		return nil, fmt.Errorf("%w: a %s token is not an access token", ErrInvalidToken, claims.Type)
	}
	var proofJTI string
	if claims.Confirmation != nil || o.proof != nil { // DPoP (proof.go): CPU checks before Redis
		if proofJTI, err = c.checkProof(claims, o.proof, token); err != nil {
			return nil, err
		}
	}
	var live bool
	var data []byte
	if c.cache != nil {
		live, data, err = c.cache.Verify(ctx, claims.ID, sessionNano(claims), claims.Session, o.session)
	} else {
		live, data, err = c.st.Verify(ctx, claims.ID, sessionNano(claims), o.session)
	}
	if err != nil {
		return nil, err
	}
	if !live {
		return nil, c.endedErr(ctx, claims.ID, sessionNano(claims), claims.Session) // ended.go
	}
	if err := c.checkAuthAge(claims, o.authWithin); err != nil {
		return nil, err
	}
	if proofJTI != "" {
		if err := c.recordProof(ctx, claims, proofJTI); err != nil {
			return nil, err
		}
	}
	claims.DataSession = data
	return claims, nil
}

// parse checks a token's size, signature, algorithm, expiry and shape,
// without Redis.
func (c *codec) parse(token string) (claims *Claims, _ error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrInvalidToken, len(token), MaxTokenSize)
	}
	if !canonical(token) {
		return nil, fmt.Errorf("%w: a byte outside base64url and '.'", ErrInvalidToken)
	}
	if k := c.fastKey(token); k != nil {
		// The claims and their dates in one allocation.
		block := new(struct {
			claims Claims
			dates  [3]jwt.NumericDate
		})
		claims = &block.claims
		if err := c.parseFast(k, token, claims, &block.dates); err != nil {
			return nil, err
		}
	} else {
		claims = new(Claims)
		if _, err := c.parser.ParseWithClaims(token, claims, c.keyFunc); err != nil {
			return nil, claimsErr(err)
		}
	}
	if err := c.checkClaims(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// checkClaims checks what the signature and the times do not: the claims'
// shape, and the client's issuer and audience.
func (c *codec) checkClaims(claims *Claims) error {
	// A valid signature means rjwt made these claims; check their shape all
	// the same, so a token of another issuer sharing the key cannot pass.
	// "sub", when present, is the user id again (tokens from before it was
	// added have none).
	if store.ValidateID(claims.ID) != nil || !isSessionOf(claims) || (claims.Subject != "" && claims.Subject != claims.ID) {
		return fmt.Errorf("%w: claims are not an rjwt session", ErrInvalidToken)
	}
	if c.issuer != "" && claims.Issuer != c.issuer {
		return fmt.Errorf("%w: issuer %q is not %q (WithIssuer)", ErrInvalidToken, claims.Issuer, c.issuer)
	}
	if len(c.audience) > 0 && !slices.ContainsFunc(c.audience, func(a string) bool { return slices.Contains(claims.Audience, a) }) {
		return fmt.Errorf("%w: audience %q names none of %q (WithAudience)", ErrInvalidToken, []string(claims.Audience), c.audience)
	}
	return nil
}

// applyAll applies opts, in order, to the zero options.
func applyAll[O any, F ~func(*O)](opts []F) (o O) {
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}
