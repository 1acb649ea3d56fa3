package rjwt

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// SessionInfo describes one live session.
type SessionInfo struct {
	Session   string    // "id:nanoid"
	ExpiresAt time.Time // when Redis will expire it
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
func (c *Client) Revoke(ctx context.Context, session string) error {
	id, nano, err := splitSession(session)
	if err != nil {
		return err
	}
	ok, err := c.st.Revoke(ctx, id, nano)
	c.forget(id, nano)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return nil
}

// RevokeAll ends every session of user id (logout everywhere) and returns how
// many live sessions it ended. Atomic, one Redis round trip, no keyspace scan.
//
// Faults: as Revoke. A run that Redis repeats reports the first run's count;
// on ErrUnavailable the count is unknown, and calling again is safe.
func (c *Client) RevokeAll(ctx context.Context, id string) (int, error) {
	if err := validateID(id); err != nil {
		return 0, err
	}
	n, err := c.st.RevokeAll(ctx, id)
	c.forgetUser(id)
	return n, err
}

// Sessions lists the live sessions of user id, soonest to expire first. It
// reads the user's index, never the keyspace. One Redis round trip, read-only.
func (c *Client) Sessions(ctx context.Context, id string) ([]SessionInfo, error) {
	if err := validateID(id); err != nil {
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
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	return out, nil
}
