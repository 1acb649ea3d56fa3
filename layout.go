package rjwt

import (
	"context"
	"fmt"

	"github.com/rjwt/rjwt/internal/store"
)

// Layout is how sessions are kept in Redis (docs/layouts.md).
type Layout int

// The layouts.
const (
	// LayoutAuto, the default, takes LayoutLean where the server (every
	// master of a Cluster) has hash-field expiry (Redis 7.4 and later,
	// Valkey 9), else LayoutClassic; with WithKeyspaceEvents(true) it
	// takes LayoutClassic, since lean sessions' expiries and revocations
	// cannot be reported per session. New does not contact Redis: the
	// first call that needs Redis probes it (COMMAND INFO, one round trip
	// per master, once per Client).
	LayoutAuto Layout = iota
	// LayoutClassic keeps a hash per session and a sorted-set index per
	// user: two keys per session and one per user, on every server. It does
	// not see sessions a lean client wrote.
	LayoutClassic
	// LayoutLean keeps one hash per user, a field per session with its own
	// expiry: about half the memory per session. Calls fail (wrapping
	// ErrNoFieldExpiry) on a server without hash-field expiry. It keeps
	// verifying, listing, refreshing and revoking the sessions the classic
	// layout wrote, until they expire: switching logs nobody out.
	LayoutLean
)

// String names the layout as its constant.
func (l Layout) String() string {
	if l >= LayoutAuto && l <= LayoutLean {
		return [...]string{"LayoutAuto", "LayoutClassic", "LayoutLean"}[l]
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// WithLayout chooses the key layout (default LayoutAuto). Every guarantee
// (single mode, the cap and its policies, idle timeouts, retries that never
// bring back an ended session, RevokeAll, refresh rotation, out-of-memory
// behaviour) is the same on both; what differs is memory, and what keyspace
// events can report (WithKeyspaceEvents: a lean session's expiry and
// revocation are not reported per session; docs/layouts.md).
func WithLayout(l Layout) Option {
	return checked(l >= LayoutAuto && l <= LayoutLean, "rjwt: WithLayout: unknown layout %d", int(l),
		func(c *config) { c.layout, c.layoutSet = l, true })
}

// testLayout is the layout of clients that do not choose one and do not ask
// for keyspace events: LayoutAuto, but for tests that ask for another
// (export_test.go).
var testLayout = LayoutAuto

// storeLayout is the layout a client made with cfg asks its store for:
// LayoutAuto takes the lean layout only without WithKeyspaceEvents, whose
// per-session reports the lean layout cannot give (docs/layouts.md).
func storeLayout(cfg *config) store.Layout {
	l := cfg.layout
	if !cfg.layoutSet && !cfg.keyspaceEvents {
		l = testLayout
	}
	if l == LayoutAuto && cfg.keyspaceEvents {
		l = LayoutClassic
	}
	return store.Layout(l)
}

// Layout is the layout the client runs: LayoutClassic or LayoutLean. With
// LayoutAuto it probes Redis if no call did yet (one round trip per master).
func (c *Client) Layout(ctx context.Context) (Layout, error) {
	l, err := c.st.Layout(ctx)
	if err != nil {
		return LayoutAuto, err
	}
	if l == store.LayoutLean {
		return LayoutLean, nil
	}
	return LayoutClassic, nil
}
