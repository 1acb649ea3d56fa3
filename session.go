package rjwt

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/rjwt/rjwt/internal/store"
)

// SessionInfo describes one live session: an entry of a device list.
//
// The times are on this host's clock: CreatedAt and LastSeen are recorded by
// Redis's clock and converted by their age, so a skew between the hosts
// does not show ("created 3 minutes ago" holds).
type SessionInfo struct {
	Session   string    // "id:nanoid"
	ExpiresAt time.Time // when Redis will expire it (with an idle timeout, unless it is used before)
	CreatedAt time.Time // when Sign created it; zero for sessions signed before it was recorded
	// LastSeen is the last Verify that reached Redis, or Refresh, or else
	// CreatedAt. It is recorded lazily: Verify writes it when the one stored
	// is a minute old or more, so it may lag by up to a minute (and by as
	// long as a local cache answers for the session).
	LastSeen time.Time
	Meta     map[string]string // WithMeta's map; nil without one
}

// Revoke ends one session (Claims.Session, "id:nanoid"): every token of it
// stops verifying at once. Atomic, one Redis round trip. It returns
// ErrSessionNotFound if the session had already ended, and ErrInvalidID for a
// malformed session name.
//
// Faults: if Redis runs the call twice (a retry after a lost reply), the
// answer is the first run's, never a false ErrSessionNotFound. With Redis
// unreachable it returns ErrUnavailable, and the session may or may not have
// ended: call it again (a second Revoke of an ended session is
// ErrSessionNotFound, which is then success). It runs when Redis is out of
// memory.
func (c *Client) Revoke(ctx context.Context, session string) (err error) {
	ctx, call := c.begin(ctx, OpRevoke)
	defer func() { c.end(ctx, call, err) }()
	id, nano, err := store.SplitSession(session)
	if err != nil {
		return err
	}
	ok, err := c.st.Revoke(ctx, id, nano)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return nil
}

// RevokeOwn ends session (Claims.Session, "id:nanoid") only if it belongs to
// user id: the call behind a device list's "log out that device", where the
// session name comes from a client and may name anyone's session. The owner
// is the id parsed from the name (the nanoid is always its last 21
// characters) and compared with id exactly, so user "a" cannot end a
// session of user "a:b" (user ids may hold ':', and a prefix check would
// allow it). Someone else's session, or one that has ended, is
// ErrSessionNotFound, the same answer for both: the caller learns nothing of
// other users' sessions. A malformed name is ErrInvalidID. Otherwise as
// Revoke: atomic, one Redis round trip.
func (c *Client) RevokeOwn(ctx context.Context, id, session string) error {
	if err := store.ValidateID(id); err != nil {
		return err
	}
	owner, _, err := store.SplitSession(session)
	if err != nil {
		return err
	}
	if owner != id {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return c.Revoke(ctx, session)
}

// RevokeAll ends every session of user id (logout everywhere) and returns how
// many live sessions it ended. Atomic, one Redis round trip, no keyspace scan.
//
// Faults: as Revoke. A run that Redis repeats reports the first run's count;
// on ErrUnavailable the count is unknown, and calling again is safe.
func (c *Client) RevokeAll(ctx context.Context, id string) (_ int, err error) {
	ctx, call := c.begin(ctx, OpRevokeAll)
	defer func() { c.end(ctx, call, err) }()
	if err := store.ValidateID(id); err != nil {
		return 0, err
	}
	n, err := c.st.RevokeAll(ctx, id)
	return n, err
}

// Sessions lists the live sessions of user id, soonest to expire first, with
// when each was created and last used and its device details (WithMeta): a
// device list. It reads the user's index, never the keyspace. One Redis
// round trip, read-only.
func (c *Client) Sessions(ctx context.Context, id string) (_ []SessionInfo, err error) {
	ctx, call := c.begin(ctx, OpSessions)
	defer func() { c.end(ctx, call, err) }()
	if err := store.ValidateID(id); err != nil {
		return nil, err
	}
	list, err := c.st.Sessions(ctx, id)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]SessionInfo, 0, len(list))
	for _, s := range list {
		info := SessionInfo{Session: sessionName(id, s.Nano)}
		if s.Left > 0 {
			info.ExpiresAt = now.Add(s.Left)
		}
		if s.Created >= 0 {
			info.CreatedAt = now.Add(-s.Created)
		}
		info.LastSeen = info.CreatedAt
		if s.SeenSince >= 0 {
			info.LastSeen = now.Add(-s.SeenSince)
		}
		if len(s.Meta) > 0 {
			// Written by WithMeta from a map[string]string: it decodes.
			_ = json.Unmarshal(s.Meta, &info.Meta)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	return out, nil
}
