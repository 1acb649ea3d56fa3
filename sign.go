package rjwt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gonanoid "github.com/matoous/go-nanoid/v2"

	"github.com/rjwt/rjwt/internal/store"
)

// SignOption configures one Sign call.
type SignOption func(*signOptions) error

type signOptions struct {
	ttl         time.Duration
	dataToken   json.RawMessage
	dataSession json.RawMessage
	refreshTTL  time.Duration // SignPair only
	meta        []byte        // WithMeta, JSON
	auth        authContext   // WithAuthTime, WithAMR (authctx.go)
	proof       *Proof        // BindProof (proof.go)
}

// WithTTL sets the token's and the session's lifetime, in the grammar of
// ParseTTL: "50 seconds", "15 minutes", "5 hours", "3 days", "1 year", "1h30m",
// "2d". Without it Sign uses the client's default TTL (WithDefaultTTL). A TTL
// that does not parse makes Sign fail with ErrInvalidTTL.
func WithTTL(ttl string) SignOption {
	return ttlOption(ttl, func(o *signOptions, d time.Duration) { o.ttl = d })
}

// ttlOption parses ttl when the option is applied, so a bad TTL is Sign's
// ErrInvalidTTL, and stores it with set.
func ttlOption(ttl string, set func(*signOptions, time.Duration)) SignOption {
	return func(o *signOptions) error {
		d, err := ParseTTL(ttl)
		if err != nil {
			return err
		}
		set(o, d)
		return nil
	}
}

// WithDataToken puts public data in the token, JSON-encoded (claim
// "dataToken"). Anyone holding the token can read it: put nothing secret here.
func WithDataToken(v any) SignOption {
	return func(o *signOptions) error {
		b, err := marshalData(v)
		if err != nil {
			return fmt.Errorf("rjwt: WithDataToken: %w", err)
		}
		o.dataToken = b
		return nil
	}
}

// WithDataSession stores private data with the session in Redis, JSON-encoded.
// It never enters the token; Verify WithSession returns it.
func WithDataSession(v any) SignOption {
	return func(o *signOptions) error {
		b, err := marshalData(v)
		if err != nil {
			return fmt.Errorf("rjwt: WithDataSession: %w", err)
		}
		o.dataSession = b
		return nil
	}
}

// MaxMetaSize is the most device details WithMeta stores with a session:
// 2 KiB of JSON.
const MaxMetaSize = 2 << 10

// WithMeta stores device details with the session, for a device list: the
// user agent, the client's IP address, a device name. Sessions returns them
// (SessionInfo.Meta); they never enter the token. Refresh keeps them. Over
// MaxMetaSize (2 KiB) as JSON, Sign fails with ErrTooLarge before touching
// Redis. A nil or empty map stores nothing.
func WithMeta(meta map[string]string) SignOption {
	return func(o *signOptions) error {
		if len(meta) == 0 {
			o.meta = nil
			return nil
		}
		b, err := json.Marshal(meta)
		if err != nil {
			return fmt.Errorf("rjwt: WithMeta: %w", err)
		}
		if len(b) > MaxMetaSize {
			return fmt.Errorf("%w: device details of %d bytes are over MaxMetaSize (%d)", ErrTooLarge, len(b), MaxMetaSize)
		}
		o.meta = b
		return nil
	}
}

func marshalData(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

// Sign creates a session for user id and returns its token. The session
// lives in Redis for the TTL (WithTTL, else the client's default), or until
// it goes unused for the client's idle timeout (WithIdleTimeout); in single
// mode (the default) the user's other sessions are revoked in the same atomic
// step. One Redis round trip.
//
// Errors: ErrInvalidID for an empty, too long or non-UTF-8 id; ErrInvalidTTL;
// ErrNoSigningKey on a client that only verifies;
// ErrTooLarge for a token over MaxTokenSize or session data over
// WithMaxSessionData (checked before Redis is touched: nothing is written,
// no session is revoked); ErrUnavailable when Redis is unreachable, slow or
// out of memory. On an error no session was created, except after a reply
// lost in transit, when the session may exist unused until its TTL.
func (c *Client) Sign(ctx context.Context, id string, opts ...SignOption) (_ string, err error) {
	ctx, call := c.begin(ctx, OpSign)
	defer func() { c.end(ctx, call, err) }()
	o, err := c.signOpts(opts)
	if err != nil {
		return "", err
	}
	token, _, err := c.sign(ctx, id, o, false)
	return token, err
}

// CheckSignOptions applies opts as Sign does and returns the first error
// (ErrInvalidTTL for a TTL that does not parse, data that does not encode
// to JSON), touching nothing: a layer that keeps options for later calls
// (rjwthttp.NewHandlers) refuses them where they are given.
func CheckSignOptions(opts ...SignOption) error {
	var o signOptions
	return o.apply(opts)
}

func (c *Client) signOpts(opts []SignOption) (signOptions, error) {
	o := signOptions{ttl: c.defaultTTL, refreshTTL: defaultRefreshTTL}
	err := o.apply(opts)
	return o, err
}

// apply applies opts in order, up to the first error.
func (o *signOptions) apply(opts []SignOption) error {
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return err
		}
	}
	return nil
}

// sign does Sign's work and also returns the claims it signed. With pair, the
// session lives for the refresh TTL and also records the refresh token's id
// and the access TTL, and the refresh token is made too. Every token is made
// and measured before Redis is touched.
func (c *Client) sign(ctx context.Context, id string, o signOptions, pair bool) (string, string, error) {
	if err := store.ValidateID(id); err != nil {
		return "", "", err
	}
	if len(o.dataSession) > c.maxData {
		return "", "", fmt.Errorf("%w: session data of %d bytes is over the %d-byte limit (WithMaxSessionData)", ErrTooLarge, len(o.dataSession), c.maxData)
	}
	nano, err := gonanoid.New()
	if err != nil {
		return "", "", fmt.Errorf("rjwt: sign: nanoid: %w", err)
	}
	now, err := c.st.Clock(ctx)
	if err != nil {
		return "", "", c.redisErr("sign", err)
	}
	args := store.SignArgs{ID: id, Nano: nano, Data: o.dataSession, TTL: o.ttl, Single: !c.multiple, MaxSessions: c.maxSessions, Idle: c.idle, Meta: o.meta, Issued: now}
	// Each token has its own jti: a random one, or for a pair, two derived
	// from the pair's refresh id (as Refresh derives them).
	jti := ""
	if pair {
		if args.RefreshID, err = gonanoid.New(); err != nil {
			return "", "", fmt.Errorf("rjwt: sign: nanoid: %w", err)
		}
		args.TTL, args.AccessTTL = o.refreshTTL, o.ttl
		jti = pairJTI(args.RefreshID, "access")
	} else if jti, err = gonanoid.New(); err != nil {
		return "", "", fmt.Errorf("rjwt: sign: nanoid: %w", err)
	}
	claims := c.accessClaims(id, nano, jti, o.dataToken, o.ttl, now)
	if err := c.stampAuth(claims, &args, o.auth, now); err != nil {
		return "", "", err
	}
	if o.proof != nil { // DPoP binding (proof.go)
		if claims.Confirmation, err = c.bindProof(o.proof); err != nil {
			return "", "", err
		}
		args.JKT = claims.Confirmation.JKT
	}
	token, err := c.signSized(claims)
	if err != nil {
		return "", "", err
	}
	refresh := ""
	if pair {
		claims.RefreshID = args.RefreshID // the access token is already signed (its cnf goes with it)
		if refresh, err = c.signSized(c.refreshClaims(claims, o.refreshTTL, now)); err != nil {
			return "", "", err
		}
	}
	if _, err = c.st.Sign(ctx, args); err != nil {
		return "", "", signErr(err, id) // authctx.go
	}
	return token, refresh, nil
}

// signSized signs claims and refuses a token Verify would refuse for its
// size.
func (c *Client) signSized(claims *Claims) (string, error) {
	token, err := c.signToken(claims)
	if err != nil {
		return "", fmt.Errorf("rjwt: sign: %w", err)
	}
	if len(token) > MaxTokenSize {
		return "", fmt.Errorf("%w: the token would take %d bytes, over MaxTokenSize (%d): make WithDataToken smaller", ErrTooLarge, len(token), MaxTokenSize)
	}
	return token, nil
}

// accessClaims are the claims of an access token of session id:nano whose
// own id is jti.
func (c *Client) accessClaims(id, nano, jti string, dataToken json.RawMessage, ttl time.Duration, now time.Time) *Claims {
	return &Claims{
		ID:        id,
		Session:   sessionName(id, nano),
		DataToken: dataToken,
		TTL:       ttl,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    c.issuer,
			Subject:   id,
			Audience:  c.audience,
			ID:        jti,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
}
