package rjwt

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gonanoid "github.com/matoous/go-nanoid/v2"

	"github.com/rjwt/rjwt/internal/store"
)

// Reissue and RevokeOthers: the session lifecycle steps that replace or
// keep one session among the user's (internal/store/scripts/reissue.lua
// and revoke_others.lua).

// RevokeOthers ends every session of session's user except session itself
// ("log out other devices") and returns how many were live. One atomic
// script: a Sign of the same user racing it is either ended by it (and
// counted) or made after it (and kept). Each ended session answers Verify
// with the reason EndOtherDevice. ErrSessionNotFound when session itself is
// not live (nothing is ended); ErrInvalidToken for a malformed session name.
// One Redis round trip; a retry after a lost reply reports the first run's
// count.
func (c *Client) RevokeOthers(ctx context.Context, session string) (_ int, err error) {
	ctx, call := c.begin(ctx, OpRevokeOthers)
	defer func() { c.end(ctx, call, err) }()
	id, nano, err := store.SplitSession(session)
	if err != nil {
		return 0, err
	}
	n, ok, err := c.st.RevokeOthers(ctx, id, nano)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, c.endedErr(ctx, id, nano, session)
	}
	return n, nil
}

// Reissue replaces session by a new session for the same login (a new id
// after a privilege change, OWASP's "renew the session id"), in one atomic
// script: the new session keeps the old one's private data, device details
// (WithMeta), auth_time and amr, and its remaining lifetime, unless opts
// say otherwise (WithDataSession, WithMeta, WithAuthTime, WithAMR; WithTTL
// for the access token, or for the session without a refresh token;
// WithRefreshTTL for a session with one: each Refresh then slides the
// session by it, else by the remaining life at the Reissue); the old session ends (its tokens
// answer ErrSessionNotFound with EndReissued). The new tokens carry
// WithDataToken's data only: the old token's public data is not in Redis.
//
// Pair.RefreshToken is set when the old session had a refresh token; else
// Pair.Token is the session's only token. In single mode it is the same
// login, not a newer one: the user's other sessions are untouched, and a
// Sign issued before the old session's login is still refused as older.
// The limit policy is not applied (the session count does not change).
//
// Safe to run twice: a retry after a lost reply answers the same new
// session, never a second one. Errors: ErrSessionNotFound when session is
// not live (nothing written); ErrInvalidToken for a malformed name;
// ErrNoSigningKey; ErrTooLarge, ErrInvalidTTL, ErrInvalidAuthContext for
// options (before Redis is touched); ErrUnavailable.
func (c *Client) Reissue(ctx context.Context, session string, opts ...SignOption) (_ Pair, err error) {
	ctx, call := c.begin(ctx, OpReissue)
	defer func() { c.end(ctx, call, err) }()
	id, nano, err := store.SplitSession(session)
	if err != nil {
		return Pair{}, err
	}
	if c.signer == nil {
		return Pair{}, fmt.Errorf("rjwt: reissue: %w", ErrNoSigningKey)
	}
	a, o, err := c.reissueArgs(id, nano, opts)
	if err != nil {
		return Pair{}, err
	}
	res, err := c.st.Reissue(ctx, a)
	if err != nil {
		return Pair{}, err
	}
	if !res.Live {
		return Pair{}, c.endedErr(ctx, id, nano, session)
	}
	return c.reissuedPair(id, a, o, res)
}

// reissueArgs applies opts (each explicitly given one overrides what the
// old session has) and checks that the new tokens will fit.
func (c *Client) reissueArgs(id, nano string, opts []SignOption) (store.ReissueArgs, signOptions, error) {
	keep := make([]byte, 0, 1) // a marker: WithMeta and WithDataSession replace it
	o := signOptions{meta: keep, dataSession: keep}
	if err := o.apply(opts); err != nil {
		return store.ReissueArgs{}, o, err
	}
	a := store.ReissueArgs{ID: id, Old: nano, Life: o.ttl, LifePair: o.refreshTTL, Access: o.ttl}
	isKeep := func(b []byte) bool { return b != nil && len(b) == 0 && cap(b) == 1 }
	if a.SetData = !isKeep(o.dataSession); a.SetData {
		a.Data = o.dataSession
		if len(a.Data) > c.maxData {
			return a, o, fmt.Errorf("%w: session data of %d bytes is over the %d-byte limit (WithMaxSessionData)", ErrTooLarge, len(a.Data), c.maxData)
		}
	}
	if a.SetMeta = !isKeep(o.meta); a.SetMeta {
		a.Meta = o.meta
	}
	if !o.auth.time.IsZero() {
		if o.auth.time.After(c.now().Add(c.leeway)) {
			return a, o, fmt.Errorf("%w: WithAuthTime %v is in the future", ErrInvalidAuthContext, o.auth.time)
		}
		a.AuthTime = o.auth.time.Unix()
	}
	a.SetAMR, a.AMR = o.auth.amrSet, strings.Join(o.auth.amr, " ")
	var err error
	if a.New, err = gonanoid.New(); err != nil {
		return a, o, fmt.Errorf("rjwt: reissue: nanoid: %w", err)
	}
	if a.RefreshID, err = gonanoid.New(); err != nil {
		return a, o, fmt.Errorf("rjwt: reissue: nanoid: %w", err)
	}
	// The largest tokens the answer can make: a pair, the most amr.
	probe := c.accessClaims(id, a.New, pairJTI(a.RefreshID, "access"), o.dataToken, time.Hour, c.now())
	probe.RefreshID, probe.AuthTime = a.RefreshID, probe.IssuedAt
	probe.AMR = make([]string, MaxAMRMethods)
	for i := range probe.AMR {
		probe.AMR[i] = strings.Repeat("x", MaxAMRLength)
	}
	if n, err := c.tokenLen(c.refreshClaims(probe, time.Hour, probe.IssuedAt.Time)); err != nil {
		return a, o, fmt.Errorf("rjwt: reissue: %w", err)
	} else if n > MaxTokenSize {
		return a, o, fmt.Errorf("%w: the reissued tokens could take %d bytes, over MaxTokenSize (%d): make WithDataToken smaller", ErrTooLarge, n, MaxTokenSize)
	}
	return a, o, nil
}

// reissuedPair signs the new session's tokens from Redis's answer.
func (c *Client) reissuedPair(id string, a store.ReissueArgs, o signOptions, res store.ReissueResult) (Pair, error) {
	ttl, jti := res.Life, ""
	if res.RefreshID != "" {
		ttl, jti = res.Access, pairJTI(res.RefreshID, "access")
	} else {
		var err error
		if jti, err = gonanoid.New(); err != nil {
			return Pair{}, fmt.Errorf("rjwt: reissue: nanoid: %w", err)
		}
	}
	claims := c.accessClaims(id, a.New, jti, o.dataToken, ttl, res.At)
	if res.AuthTime >= 0 {
		claims.AuthTime = jwt.NewNumericDate(time.Unix(res.AuthTime, 0))
	}
	if res.AMR != "" {
		claims.AMR = strings.Fields(res.AMR)
	}
	if res.JKT != "" { // a DPoP-bound login stays bound (proof.go)
		claims.Confirmation = &Confirmation{JKT: res.JKT}
	}
	token, err := c.signToken(claims)
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: reissue: %w", err)
	}
	p := Pair{Token: token, ExpiresIn: ttl}
	if res.RefreshID != "" {
		claims.RefreshID = res.RefreshID
		if p.RefreshToken, err = c.signToken(c.refreshClaims(claims, res.Life, res.At)); err != nil {
			return Pair{}, fmt.Errorf("rjwt: reissue: %w", err)
		}
		p.RefreshExpiresIn = res.Life
	}
	return p, nil
}
