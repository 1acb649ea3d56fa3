package rjwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gonanoid "github.com/matoous/go-nanoid/v2"

	"github.com/rjwt/rjwt/internal/store"
)

// ErrRefreshReused: a refresh token that was already rotated away was
// presented again. rjwt takes it for theft and has revoked the session:
// every token of it, access and refresh, fails from then on.
var ErrRefreshReused = errors.New("rjwt: refresh token reused; session revoked")

// EventRefreshReused is sent (whatever WithKeyspaceEvents says) when Refresh
// detects a reused refresh token and revokes its session; Event.Session names
// it.
const EventRefreshReused EventType = "refresh_reused"

// defaultRefreshTTL is WithRefreshTTL's default.
const defaultRefreshTTL = 30 * 24 * time.Hour

const refreshType = "refresh"

// Pair is an access token and the refresh token of the same session, with
// their lifetimes, in JSON fit to send to a client:
//
//	{"token": "...", "refreshToken": "...", "expiresIn": 900, "refreshExpiresIn": 2592000}
type Pair struct {
	Token            string        // access token; JSON "token"
	RefreshToken     string        // JSON "refreshToken"
	ExpiresIn        time.Duration // JSON "expiresIn", whole seconds
	RefreshExpiresIn time.Duration // JSON "refreshExpiresIn", whole seconds
}

type pairJSON struct {
	Token            string `json:"token"`
	RefreshToken     string `json:"refreshToken"`
	ExpiresIn        int64  `json:"expiresIn"`
	RefreshExpiresIn int64  `json:"refreshExpiresIn"`
}

// MarshalJSON encodes the pair with lifetimes in whole seconds.
func (p Pair) MarshalJSON() ([]byte, error) {
	return json.Marshal(pairJSON{p.Token, p.RefreshToken, int64(p.ExpiresIn / time.Second), int64(p.RefreshExpiresIn / time.Second)})
}

// UnmarshalJSON decodes a pair encoded by MarshalJSON.
func (p *Pair) UnmarshalJSON(b []byte) error {
	var w pairJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Pair{w.Token, w.RefreshToken, time.Duration(w.ExpiresIn) * time.Second, time.Duration(w.RefreshExpiresIn) * time.Second}
	return nil
}

// WithRefreshTTL sets the refresh token's lifetime for SignPair, in the
// grammar of ParseTTL. The default is "30 days". The session lives in Redis
// as long as its refresh token, and every Refresh slides it by this much. It
// may not be shorter than the access token's TTL.
func WithRefreshTTL(ttl string) SignOption {
	return ttlOption(ttl, func(o *signOptions, d time.Duration) { o.refreshTTL = d })
}

// SignPair creates a session for user id, like Sign, and returns a
// short-lived access token (WithTTL, else the default TTL) and a refresh token
// (WithRefreshTTL, default 30 days) for it. The session lives in Redis as long
// as the refresh token. One Redis round trip.
func (c *Client) SignPair(ctx context.Context, id string, opts ...SignOption) (_ Pair, err error) {
	ctx, call := c.begin(ctx, OpSignPair)
	defer func() { c.end(ctx, call, err) }()
	o, err := c.signOpts(opts)
	if err != nil {
		return Pair{}, err
	}
	if o.refreshTTL < o.ttl {
		return Pair{}, fmt.Errorf("%w: the refresh TTL %v is shorter than the access TTL %v", ErrInvalidTTL, o.refreshTTL, o.ttl)
	}
	token, refresh, err := c.sign(ctx, id, o, true)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Token: token, RefreshToken: refresh, ExpiresIn: o.ttl, RefreshExpiresIn: o.refreshTTL}, nil
}

// refreshClaims are the claims of the refresh token that goes with an access
// token's claims (which carry the refresh id). Its jti derives from the
// refresh id, so a pair built again for the same rotation is the same.
func (c *Client) refreshClaims(access *Claims, ttl time.Duration, now time.Time) *Claims {
	return &Claims{
		ID:        access.ID,
		Session:   access.Session,
		DataToken: access.DataToken,
		TTL:       ttl,
		Type:      refreshType,
		RefreshID: access.RefreshID,
		AuthTime:  access.AuthTime, // kept across Refresh (authctx.go)
		AMR:       access.AMR,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    access.Issuer,
			Subject:   access.Subject,
			Audience:  access.Audience,
			ID:        pairJTI(access.RefreshID, "refresh"),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Confirmation: access.Confirmation,
	}
}

// Refresh trades a refresh token for a new pair of the same session: the old
// refresh token stops working, and the session's life in Redis slides by the
// refresh TTL (with an idle timeout: its end slides so, and it lives the
// idle window from now). One Redis round trip; rotation is atomic, so of many
// concurrent calls with one token exactly one succeeds.
//
// A call that Redis runs twice (a retry after a lost reply, or a Redis that
// stalled past a read timeout) recognises its own rotation and returns the
// same pair; it never takes itself for a thief.
//
// Within the grace (WithRefreshGrace, default 5 seconds) after a rotation,
// the refresh token it replaced gets the same pair again, the same strings:
// two tabs refreshing at once, or a client that retries after a lost reply,
// both carry on. After the grace, and for any older token, presenting a
// refresh token that was already rotated away is taken as theft:
// the session is revoked, every token of it fails, Refresh returns
// ErrRefreshReused and an EventRefreshReused is sent.
//
// A session bound to a DPoP key (BindProof) refreshes only with a proof by
// that key (WithRefreshProof): without one, or with a bad one, Refresh
// returns ErrInvalidProof, sends an EventInvalidProof, and neither spends
// the refresh token nor ends the session (a thief's attempt does not log
// the user out). The new tokens are bound to the same key.
//
// Errors: ErrInvalidToken (also for an access token), ErrTokenExpired,
// ErrSessionNotFound, ErrRefreshReused, ErrNoSigningKey, ErrInvalidProof, ErrTooLarge (the new
// pair would be over MaxTokenSize with the current signing key, say after a
// key rotation: checked before Redis, the refresh token is not spent), or a
// wrapped Redis error.
func (c *Client) Refresh(ctx context.Context, refreshToken string, opts ...RefreshOption) (_ Pair, err error) {
	ctx, call := c.begin(ctx, OpRefresh)
	defer func() { c.end(ctx, call, err) }()
	if c.signer == nil { // before the rotation in Redis, which would spend the token
		return Pair{}, fmt.Errorf("rjwt: refresh: %w", ErrNoSigningKey)
	}
	old, err := c.parse(refreshToken)
	if err != nil {
		return Pair{}, err
	}
	if old.Type != refreshType || !validNanoid(old.RefreshID) {
		return Pair{}, fmt.Errorf("%w: not a refresh token", ErrInvalidToken)
	}
	newID, err := gonanoid.New()
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: refresh: nanoid: %w", err)
	}
	nano := sessionNano(old)
	// Measure the pair before Redis spends the presented token: the signing
	// key may have changed since SignPair (a kid, a longer signature), and a
	// pair over MaxTokenSize would never verify. The refresh token carries
	// every claim of the access token and more, with a TTL at least as long
	// and times of the same width, so it bounds both.
	probe := c.accessClaims(old.ID, nano, pairJTI(newID, "access"), old.DataToken, old.TTL, c.now())
	probe.RefreshID, probe.Confirmation = newID, old.Confirmation
	probe.AuthTime, probe.AMR = old.AuthTime, old.AMR
	if n, err := c.tokenLen(c.refreshClaims(probe, old.TTL, probe.IssuedAt.Time)); err != nil {
		return Pair{}, fmt.Errorf("rjwt: refresh: %w", err)
	} else if n > MaxTokenSize {
		return Pair{}, fmt.Errorf("%w: the refreshed tokens would take %d bytes with the current signing key, over MaxTokenSize (%d); the refresh token was not spent", ErrTooLarge, n, MaxTokenSize)
	}
	if err := c.refreshProof(ctx, old, opts); err != nil { // DPoP (proof.go), before the token is spent
		return Pair{}, err
	}
	res, err := c.st.Refresh(ctx, store.RefreshArgs{ID: old.ID, Nano: nano, Presented: old.RefreshID, Next: newID, TTL: old.TTL, Grace: c.refreshGrace})
	if err != nil {
		return Pair{}, err
	}
	switch {
	case res.Status == store.Reused:
		c.emit(Event{Type: EventRefreshReused, Session: old.Session})
		return Pair{}, fmt.Errorf("%w: %s", ErrRefreshReused, old.Session)
	case res.Status != store.Rotated || res.AccessTTL <= 0:
		return Pair{}, c.endedErr(ctx, old.ID, nano, old.Session) // ended.go
	}
	// The tokens' times are the rotation's, by Redis's clock, and their jtis
	// derive from the rotation's refresh id: a run that Redis repeated, or
	// the replaced token within the grace, gets the same pair.
	access := c.accessClaims(old.ID, nano, pairJTI(res.Next, "access"), old.DataToken, res.AccessTTL, res.At)
	access.AuthTime, access.AMR = old.AuthTime, old.AMR // the refresh token carries them
	access.Confirmation = old.Confirmation
	token, err := c.signToken(access)
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: refresh: %w", err)
	}
	access.RefreshID = res.Next
	refresh, err := c.signToken(c.refreshClaims(access, old.TTL, res.At))
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: refresh: %w", err)
	}
	return Pair{Token: token, RefreshToken: refresh, ExpiresIn: res.AccessTTL, RefreshExpiresIn: old.TTL}, nil
}

// Session data and sliding expiry, for the HTTP layer and applications.

// SetSessionData replaces the private data of a live session (what
// WithDataSession stored, and Verify WithSession returns) with v, JSON-encoded.
// It never creates a session: a session that has ended is ErrSessionNotFound.
// One Redis round trip. It replaces the whole data: of two requests that
// each read, change and write it back, one change is lost. Use
// UpdateSessionData or IncrSessionData to change single fields.
func (c *Client) SetSessionData(ctx context.Context, session string, v any) (err error) {
	ctx, call := c.begin(ctx, OpSetSessionData)
	defer func() { c.end(ctx, call, err) }()
	id, nano, err := store.SplitSession(session)
	if err != nil {
		return err
	}
	data, err := marshalData(v)
	if err != nil {
		return fmt.Errorf("rjwt: set session data: %w", err)
	}
	if len(data) > c.maxData {
		return fmt.Errorf("%w: session data of %d bytes is over the %d-byte limit (WithMaxSessionData)", ErrTooLarge, len(data), c.maxData)
	}
	ok, err := c.st.SetData(ctx, id, nano, data)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return nil
}

// Touch slides a live session's life in Redis to at least ttl from now; it
// never shortens it, and never extends it past its absolute end (its
// refresh token's expiry, else its token's). A session that has ended is
// ErrSessionNotFound. One Redis round trip.
//
// Deprecated: Sign and Refresh give a session a Redis life as long as its
// tokens', so Touch cannot make a session outlive them: it extends only a
// session with an idle timeout, which Verify already extends while the
// session is used. Use WithIdleTimeout.
func (c *Client) Touch(ctx context.Context, session string, ttl time.Duration) (err error) {
	ctx, call := c.begin(ctx, OpTouch)
	defer func() { c.end(ctx, call, err) }()
	id, nano, err := store.SplitSession(session)
	if err != nil {
		return err
	}
	if ttl < time.Second {
		return fmt.Errorf("%w: %v is under one second", ErrInvalidTTL, ttl)
	}
	ok, err := c.st.Touch(ctx, id, nano, ttl)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return nil
}
