package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	gonanoid "github.com/matoous/go-nanoid/v2"
	"github.com/redis/go-redis/v9"
)

// The operations that end, list and change sessions.

// Tracked is a session as Redis answered it to VerifyTTL.
type Tracked struct {
	Live    bool
	Data    []byte        // nil when none
	HasData bool          // the hash has a data field (Sign always writes one)
	Left    time.Duration // until the first of its two keys expires; -1: neither does
}

// VerifyTTL is Verify for a local cache: the same liveness rule, the data
// always, and the time the session has left in Redis. It runs on via, a
// client whose connections have CLIENT TRACKING on, so that Redis tracks
// both of the session's keys for it. One round trip; read-only; no retries
// (the caller falls back to Verify).
func (s *Store) VerifyTTL(ctx context.Context, via redis.Scripter, id, nano string) (Tracked, error) {
	base := s.UserBase(id)
	cmd, err := s.runOnce(ctx, clientScripter{via}, "verify", verifyTTLScript, []string{base + indexSuffix, base + nano}, nano)
	if err != nil {
		return Tracked{}, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return Tracked{}, fmt.Errorf("rjwt: verify: unexpected reply %v", cmd.Val())
	}
	if n, _ := res[0].(int64); n != 1 {
		return Tracked{}, nil
	}
	t := Tracked{Live: true, Left: -1}
	if len(res) > 1 {
		if d, ok := res[1].(string); ok {
			t.HasData = true
			if d != "" {
				t.Data = []byte(d)
			}
		}
	}
	if len(res) > 2 {
		if ms, _ := res[2].(int64); ms >= 0 {
			t.Left = time.Duration(ms) * time.Millisecond
		}
	}
	return t, nil
}

// runOnce is runOn without retries.
func (s *Store) runOnce(ctx context.Context, via scripter, op string, sc script, keys []string, args ...any) (*redis.Cmd, error) {
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	if err := s.avail.Err(); err != nil {
		return nil, fmt.Errorf("rjwt: %s: %w", op, err)
	}
	if lean, err := s.isLean(ctx); err != nil {
		return nil, s.layoutErr(op, err)
	} else if lean {
		sc = *sc.lean
	}
	run, src := sc.flagged, sc.flaggedSrc
	if s.plain.Load() {
		run, src = sc.plain, sc.plainSrc
	}
	cmd := via.evalSha(ctx, run, src, keys, args)
	if err := cmd.Err(); err == nil || errors.Is(err, redis.Nil) {
		s.avail.answered()
	} else {
		if isShebangRefused(err) && !s.plain.Load() {
			s.flagsRefused()
		}
		return nil, s.Wrap(op, err)
	}
	return cmd, nil
}

// Revoke ends session id:nano and reports whether it was live. One round
// trip; a second run of the same call reports the first run's answer.
func (s *Store) Revoke(ctx context.Context, id, nano string) (bool, error) {
	defer s.changed(id, nano)
	req, err := gonanoid.New()
	if err != nil {
		return false, fmt.Errorf("rjwt: revoke: nanoid: %w", err)
	}
	base := s.UserBase(id)
	cmd, err := s.runRevocation(ctx, "revoke", revokeScript, []string{base + indexSuffix, base + nano, base + opInfix + req, base + opInfix + nano}, nano, s.ackFlag())
	if err != nil {
		return false, err
	}
	n, _ := cmd.Int()
	return n == 1, nil
}

// RevokeAll ends every session of user id and returns how many were live.
// One round trip; a second run of the same call reports the first's count.
func (s *Store) RevokeAll(ctx context.Context, id string) (int, error) {
	defer s.changed(id, "")
	req, err := gonanoid.New()
	if err != nil {
		return 0, fmt.Errorf("rjwt: revoke all: nanoid: %w", err)
	}
	base := s.UserBase(id)
	cmd, err := s.runRevocation(ctx, "revoke all", revokeAllScript, []string{base + indexSuffix, base + opInfix + req}, base, s.ackFlag(), base+opInfix)
	if err != nil {
		return 0, err
	}
	n, _ := cmd.Int()
	return n, nil
}

// SessionTTL is one live session of a user: the time it has left (-1: no
// expiry), how long ago it was created and last used, by Redis's clock (-1:
// not recorded, for sessions signed before they were), and its device
// details (a JSON object, nil when none).
type SessionTTL struct {
	Nano      string
	Left      time.Duration
	Created   time.Duration
	SeenSince time.Duration
	Meta      []byte
}

// Sessions lists user id's live sessions. One round trip; read-only.
func (s *Store) Sessions(ctx context.Context, id string) ([]SessionTTL, error) {
	base := s.UserBase(id)
	cmd, err := s.runPiped(ctx, "sessions", sessionsScript, []string{base + indexSuffix}, base)
	if err != nil {
		return nil, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return nil, fmt.Errorf("rjwt: sessions: unexpected reply %v", cmd.Val())
	}
	now, _ := res[0].(int64)
	ago := func(v any) time.Duration {
		str, ok := v.(string)
		if !ok {
			return -1
		}
		ms, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return -1
		}
		return time.Duration(max(now-ms, 0)) * time.Millisecond
	}
	out := make([]SessionTTL, 0, (len(res)-1)/5)
	for i := 1; i+4 < len(res); i += 5 {
		nano, _ := res[i].(string)
		ms, _ := res[i+1].(int64)
		left := time.Duration(ms) * time.Millisecond
		if ms < 0 {
			left = -1
		}
		st := SessionTTL{Nano: nano, Left: left, Created: ago(res[i+2]), SeenSince: ago(res[i+3])}
		if m, ok := res[i+4].(string); ok && m != "" {
			st.Meta = []byte(m)
		}
		out = append(out, st)
	}
	return out, nil
}

// RefreshArgs name one rotation.
type RefreshArgs struct {
	ID, Nano  string
	Presented string        // the refresh id of the token presented
	Next      string        // its successor, chosen before the call
	TTL       time.Duration // the refresh TTL; the session slides by it
	Grace     time.Duration // the id a rotation replaced gets its answer this long
}

// RefreshStatus is what a rotation found.
type RefreshStatus int

// The outcomes of Refresh.
const (
	Rotated RefreshStatus = iota // the presented id was current: now Next is
	Gone                         // the session is not live
	Reused                       // the presented id is stale: the session was deleted
)

// RefreshResult is Refresh's answer.
type RefreshResult struct {
	Status    RefreshStatus
	AccessTTL time.Duration // Rotated: the session's access TTL
	At        time.Time     // Rotated: when it rotated, by Redis's clock
	Next      string        // Rotated: the refresh id that is current now
}

// Refresh rotates a session's refresh id. One round trip. Run twice (a
// retry after a lost reply), the second run recognises its own rotation and
// answers the same, so the caller builds the same pair; so does a second
// call with the replaced id within the grace.
func (s *Store) Refresh(ctx context.Context, a RefreshArgs) (RefreshResult, error) {
	defer s.changed(a.ID, a.Nano)
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	base := s.UserBase(a.ID)
	cmd, err := s.runRefresh(ctx, refreshScript, []string{base + indexSuffix, base + a.Nano, base + opInfix + a.Nano},
		a.Nano, a.Presented, a.Next, a.TTL.Milliseconds(), a.Grace.Milliseconds(), s.notAfter(ctx))
	if err != nil {
		return RefreshResult{}, err
	}
	res, _ := cmd.Slice()
	status := func(i int) int64 {
		if i < len(res) {
			n, _ := res[i].(int64)
			return n
		}
		return 0
	}
	switch {
	case len(res) == 4 && status(0) == 1:
		next, _ := res[3].(string)
		return RefreshResult{Status: Rotated, AccessTTL: time.Duration(status(1)) * time.Millisecond, At: time.UnixMilli(status(2)), Next: next}, nil
	case status(0) == -1:
		return RefreshResult{Status: Reused}, nil
	case status(0) == -2:
		return RefreshResult{}, s.errLate("refresh")
	}
	return RefreshResult{Status: Gone}, nil
}

// SetData replaces a live session's private data; false when it is not live.
// One round trip.
func (s *Store) SetData(ctx context.Context, id, nano string, data []byte) (bool, error) {
	defer s.changed(id, nano)
	base := s.UserBase(id)
	cmd, err := s.run(ctx, "set session data", setDataScript, []string{base + indexSuffix, base + nano}, nano, data)
	if err != nil {
		return false, err
	}
	n, _ := cmd.Int()
	return n == 1, nil
}

// FieldChange is one change of UpdateData: field Name (whose JSON string
// form is Literal) set to the raw JSON Value, or deleted when Value is nil.
type FieldChange struct {
	Name, Literal string
	Value         []byte
}

// DataStatus is what UpdateData and IncrData found.
type DataStatus int

// The outcomes of UpdateData and IncrData.
const (
	DataDone       DataStatus = 1
	DataGone       DataStatus = 0  // the session is not live
	DataNotObject  DataStatus = -2 // the data is not a JSON object
	DataNotInteger DataStatus = -3 // IncrData: the field is not an integer
	DataTooLarge   DataStatus = -4 // the data would be over the limit
)

// UpdateData sets and deletes top-level fields of a live session's private
// data (a JSON object) in one atomic step, keeping the other fields as they
// are in Redis: concurrent updates of other fields are not lost. max bounds
// the data's size. One round trip; running it twice writes the same again.
func (s *Store) UpdateData(ctx context.Context, id, nano string, max int, changes []FieldChange) (DataStatus, error) {
	defer s.changed(id, nano)
	base := s.UserBase(id)
	args := make([]any, 0, 3+3*len(changes))
	args = append(args, nano, max, "u")
	for _, c := range changes {
		args = append(args, c.Name, c.Literal, c.Value)
	}
	cmd, err := s.run(ctx, "update session data", updateScript, []string{base + indexSuffix, base + nano, base + opInfix + "-"}, args...)
	if err != nil {
		return 0, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return 0, fmt.Errorf("rjwt: update session data: unexpected reply %v", cmd.Val())
	}
	st, _ := res[0].(int64)
	return DataStatus(st), nil
}

// IncrData adds delta to the integer field Name of a live session's private
// data (a JSON object; a missing field counts as 0) and returns the sum.
// One round trip; a second run of the same call (a retry after a lost
// reply) returns the first run's sum without adding again.
func (s *Store) IncrData(ctx context.Context, id, nano string, max int, name, literal string, delta int64) (int64, DataStatus, error) {
	defer s.changed(id, nano)
	req, err := gonanoid.New()
	if err != nil {
		return 0, 0, fmt.Errorf("rjwt: increment session data: nanoid: %w", err)
	}
	base := s.UserBase(id)
	cmd, err := s.run(ctx, "increment session data", updateScript, []string{base + indexSuffix, base + nano, base + opInfix + req},
		nano, max, "i", name, literal, delta)
	if err != nil {
		return 0, 0, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return 0, 0, fmt.Errorf("rjwt: increment session data: unexpected reply %v", cmd.Val())
	}
	st, _ := res[0].(int64)
	if st != int64(DataDone) || len(res) < 2 {
		return 0, DataStatus(st), nil
	}
	v, _ := res[1].(string)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("rjwt: increment session data: unexpected reply %v", cmd.Val())
	}
	return n, DataDone, nil
}

// Touch extends a live session to at least ttl from now, never past its
// absolute end; false when it is not live. One round trip.
func (s *Store) Touch(ctx context.Context, id, nano string, ttl time.Duration) (bool, error) {
	defer s.changed(id, nano)
	base := s.UserBase(id)
	cmd, err := s.run(ctx, "touch", touchScript, []string{base + indexSuffix, base + nano}, nano, ttl.Milliseconds())
	if err != nil {
		return false, err
	}
	n, _ := cmd.Int()
	return n == 1, nil
}

// Entry names one session.
type Entry struct{ ID, Nano string }

// Prune removes sessions Redis has expired from their users' indexes, in
// one pipeline (one round trip per node involved). Running it twice removes
// nothing more.
func (s *Store) Prune(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.ZRem(ctx, s.Index(e.ID), e.Nano)
		}
		return nil
	})
	if err != nil {
		return s.Wrap(fmt.Sprintf("pruning %d expired sessions from their indexes", len(entries)), err)
	}
	return nil
}

// MarkSuspect asks the topology watcher to walk now (a subscription
// connection broke: is Redis down, or only that connection?), without
// failing calls meanwhile.
func (s *Store) MarkSuspect() { s.avail.suspect() }
