package rjwt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rjwt/rjwt/internal/dpop"
	"github.com/rjwt/rjwt/internal/store"
)

// ErrInvalidProof: a DPoP proof (RFC 9449) that is missing, malformed,
// stale, replayed, made for another request or signed by another key
// than the one the session is bound to; or a bound token used without
// a proof. Nothing was written, and the session was not revoked.
var ErrInvalidProof = errors.New("rjwt: invalid DPoP proof")

// Sender-constrained sessions: DPoP (RFC 9449). docs/dpop.md has the
// client's side and the measured costs.

// Proof is a DPoP proof and the request it was sent with.
type Proof struct {
	JWT    string // the request's DPoP header
	Method string // the request's method, "POST"
	URL    string // the request's URL without query or fragment (the proof's htu); behind a proxy, the public one

	// Nonce, when not nil, makes a server nonce (RFC 9449 §8) required: the
	// proof must carry a nonce Nonce accepts, else the error is
	// ErrInvalidProof and ErrUseDPoPNonce (answer it with a fresh nonce).
	Nonce func(nonce string) bool
}

// Confirmation is a token's "cnf" claim (RFC 7800): the RFC 7638 thumbprint
// of the DPoP key its session is bound to (RFC 9449 §6.1).
type Confirmation struct {
	JKT string `json:"jkt"`
}

// EventInvalidProof is sent when Refresh, or Verify of a bound token, is
// refused for its DPoP proof (ErrInvalidProof): a missing, bad or replayed
// proof, or one by another key. Event.Session names the session, which is
// not revoked; Event.Err says what was wrong.
const EventInvalidProof EventType = "invalid_proof"

// ErrUseDPoPNonce comes with ErrInvalidProof (never alone) when a proof
// lacks the server nonce Proof.Nonce asks for, or carries one it no longer
// accepts: the client should retry with the current nonce (RFC 9449 §8).
var ErrUseDPoPNonce = errors.New("rjwt: the DPoP proof must carry the server's current nonce")

// BindProof binds the session Sign or SignPair creates to the key of the
// client's DPoP proof p (made for the login request, without ath): its
// tokens carry the key's thumbprint (Claims.Confirmation, "cnf":
// {"jkt": ...}), the session stores it, and from then on Verify accepts its
// access tokens only WithProof and Refresh its refresh tokens only
// WithRefreshProof, each with a fresh proof by that key. A bad proof makes
// Sign fail with ErrInvalidProof before Redis is touched. The login proof's
// jti is not recorded (no session exists yet to scope it to): a replayed
// login proof still needs the user's credentials.
func BindProof(p Proof) SignOption {
	return func(o *signOptions) error {
		o.proof = &p
		return nil
	}
}

// WithProof gives Verify the DPoP proof sent with the token. A token bound
// to a key (BindProof) verifies only with a proof that is valid for this
// request (p.Method and p.URL), signed by the bound key, carries the
// token's hash (ath) and was never seen before for the session; a bound
// token without WithProof, or with a bad proof, is ErrInvalidProof. A token
// that is not bound, given WithProof, is ErrInvalidProof too (the client
// claims DPoP for a bearer token, RFC 9449 §7.1).
//
// Cost: the proof's checks (its signature dominates), and the jti's record
// in Redis: one more round trip (a script: SET NX PX of a key in the
// session's slot that expires with the proof window). With WithLocalCache a
// cached session still answers liveness from memory, but the jti's record
// always goes to Redis: a replay set answered from memory could not see a
// replay on another host. Verify without WithProof of an unbound token costs
// nothing more.
func WithProof(p Proof) VerifyOption {
	return func(o *verifyOptions) { o.proof = &p }
}

// RefreshOption configures one Refresh call.
type RefreshOption func(*refreshOptions)

type refreshOptions struct {
	proof *Proof
}

// WithRefreshProof gives Refresh the DPoP proof sent with the refresh
// request (without ath): required for a bound session, by its key.
func WithRefreshProof(p Proof) RefreshOption {
	return func(o *refreshOptions) { o.proof = &p }
}

// checker checks proofs by Redis's clock, with the client's leeway.
func (c *Client) checker() *dpop.Checker {
	return &dpop.Checker{Leeway: c.leeway, Now: c.now}
}

// proofWindow is how long a jti is remembered: as long as any proof
// carrying it could be accepted (iat up to MaxFuture ahead and MaxAge
// behind, each widened by the leeway).
func (c *Client) proofWindow() time.Duration {
	return dpop.DefaultMaxAge + dpop.DefaultMaxFuture + 2*c.leeway
}

// proofErr is the error of a refused proof.
func proofErr(err error) error {
	if errors.Is(err, dpop.ErrUseNonce) {
		return fmt.Errorf("%w: %w: %v", ErrInvalidProof, ErrUseDPoPNonce, err)
	}
	return fmt.Errorf("%w: %v", ErrInvalidProof, err)
}

// check checks p for a request that carries accessToken (or none) with a
// session bound to jkt (or not yet bound).
func (c *Client) check(p *Proof, accessToken, jkt string) (dpop.Result, error) {
	if p == nil || p.JWT == "" {
		return dpop.Result{}, fmt.Errorf("%w: the token is bound to a DPoP key and no proof came with it", ErrInvalidProof)
	}
	res, err := c.checker().Check(p.JWT, dpop.Request{Method: p.Method, URL: p.URL, AccessToken: accessToken, Nonce: p.Nonce, JKT: jkt})
	if err != nil {
		return res, proofErr(err)
	}
	return res, nil
}

// bindProof checks a login's proof and returns the confirmation its tokens
// carry.
func (c *Client) bindProof(p *Proof) (*Confirmation, error) {
	res, err := c.check(p, "", "")
	if err != nil {
		return nil, err
	}
	return &Confirmation{JKT: res.JKT}, nil
}

// checkProof does Verify's checks of a proof that need no Redis and returns
// its jti, for recordProof.
func (c *Client) checkProof(claims *Claims, p *Proof, token string) (string, error) {
	var err error
	var res dpop.Result
	switch {
	case claims.Confirmation == nil:
		err = fmt.Errorf("%w: a DPoP proof came with a token that is not bound to a key", ErrInvalidProof)
	case claims.Confirmation.JKT == "":
		err = fmt.Errorf("%w: the token's cnf has no jkt", ErrInvalidToken)
	default:
		res, err = c.check(p, token, claims.Confirmation.JKT)
	}
	if err != nil {
		c.emit(Event{Type: EventInvalidProof, Session: claims.Session, Err: err})
		return "", err
	}
	return res.JTI, nil
}

// recordProof accepts a proof's jti once for the session of claims.
func (c *Client) recordProof(ctx context.Context, claims *Claims, jti string) error {
	st, err := c.st.RecordProof(ctx, claims.ID, sessionNano(claims), claims.Confirmation.JKT, jti, c.proofWindow())
	switch {
	case err != nil:
		return err
	case st == store.ProofReplayed:
		err = fmt.Errorf("%w: the proof's jti was seen before (a replay)", ErrInvalidProof)
		c.emit(Event{Type: EventInvalidProof, Session: claims.Session, Err: err})
		return err
	case st != store.ProofRecorded:
		return fmt.Errorf("%w: %s", ErrSessionNotFound, claims.Session)
	}
	return nil
}

// refreshProof is Refresh's check of a bound session's proof: done before
// the refresh token is spent, and a failure ends nothing.
func (c *Client) refreshProof(ctx context.Context, old *Claims, opts []RefreshOption) error {
	o := applyAll(opts)
	if old.Confirmation == nil {
		if o.proof != nil {
			err := fmt.Errorf("%w: a DPoP proof came with a refresh token that is not bound to a key", ErrInvalidProof)
			c.emit(Event{Type: EventInvalidProof, Session: old.Session, Err: err})
			return err
		}
		return nil
	}
	res, err := c.check(o.proof, "", old.Confirmation.JKT)
	if err != nil {
		c.emit(Event{Type: EventInvalidProof, Session: old.Session, Err: err})
		return err
	}
	return c.recordProof(ctx, old, res.JTI)
}

// CheckProof checks a DPoP proof made for a request that carries no access
// token (a login, a registration) as BindProof will, and returns its key's
// RFC 7638 thumbprint: a layer that does work before signing (creating an
// account) refuses a bad proof first. Its jti is not recorded. Errors:
// ErrInvalidProof (with ErrUseDPoPNonce for a missing or stale nonce).
func (c *Client) CheckProof(p Proof) (string, error) {
	cnf, err := c.bindProof(&p)
	if err != nil {
		return "", err
	}
	return cnf.JKT, nil
}
