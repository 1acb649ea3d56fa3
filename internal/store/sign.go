package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sign: creating a session, and its late-run refusal.

// SignArgs are what Sign writes.
type SignArgs struct {
	ID, Nano    string
	Data        []byte
	TTL         time.Duration // the session's life in Redis
	Single      bool          // end the user's other sessions
	RefreshID   string        // for a session with a refresh token
	AccessTTL   time.Duration // with RefreshID
	MaxSessions int           // multiple mode: most sessions per user (0: no limit)
	Idle        time.Duration // idle timeout (0: none)
	Meta        []byte        // device details, a JSON object (nil: none)
	Issued      time.Time     // when the caller issued the Sign (its tokens' iat)
	Policy      int           // at MaxSessions: 0 nearest expiry, 1 oldest, 2 least recent, 3 refuse
	AuthTime    int64         // auth_time, Unix s, when given (0: the issue time)
	AMR         string        // the amr methods joined by spaces ("": none)
	JKT         string        // DPoP: the thumbprint of the key the session is bound to ("": none)
}

// Sign creates session a.ID:a.Nano and returns how many other sessions of
// the user it ended (single mode, or the limit in multiple mode). One round
// trip. Run twice inside its write window (the call's deadline plus the
// skew plus 1 s, in which a run can still write; 60 s without a deadline),
// the second run changes nothing and returns the first's answer, even if
// the session was revoked or replaced meanwhile: it finds the session's
// hash, or the tombstone that whatever ended it wrote, or the answer the
// first run kept (see sign.lua). It never brings an ended session back.
func (s *Store) Sign(ctx context.Context, a SignArgs) (int, error) {
	if a.Single || a.MaxSessions > 0 {
		defer s.changed(a.ID, "") // it may end the user's other sessions
	}
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	base := s.UserBase(a.ID)
	mode := "" // multiple mode without a cap
	switch {
	case a.Single:
		mode = "single"
	case a.MaxSessions > 0:
		mode = strconv.Itoa(a.Policy) + ":" + strconv.Itoa(a.MaxSessions)
	}
	args := make([]any, 0, 20)
	args = append(args, a.Nano, a.TTL.Milliseconds(), a.Idle.Milliseconds(), a.Issued.UnixMilli(), s.notAfter(ctx), mode, a.Data)
	// The fields the script writes as they are (sign.lua: ARGV[8...]).
	if a.AuthTime != 0 {
		args = append(args, "u", a.AuthTime)
	}
	if a.AMR != "" {
		args = append(args, "q", a.AMR)
	}
	if a.RefreshID != "" {
		args = append(args, "r", a.RefreshID, "a", a.AccessTTL.Milliseconds())
	}
	if a.Idle > 0 {
		args = append(args, fieldIdle, a.Idle.Milliseconds())
	}
	if len(a.Meta) > 0 {
		args = append(args, "m", a.Meta)
	}
	if a.JKT != "" {
		args = append(args, "j", a.JKT)
	}
	cmd, err := s.runPiped(ctx, "sign", signScript, []string{base + indexSuffix, base + a.Nano, base + opInfix + a.Nano}, args...)
	if err != nil {
		return 0, err
	}
	n, _ := cmd.Int()
	switch n {
	case -1:
		return 0, s.errLate("sign")
	case -2:
		return 0, ErrSuperseded
	case -3:
		return 0, ErrTooMany
	}
	return n, nil
}

// ErrSuperseded: a single-mode Sign found a session of the user issued
// after it (a newer login that succeeded while this one was delayed), and
// did nothing.
var ErrSuperseded = errors.New("a newer login of the user replaced this one")

// notAfter is when, by Redis's clock plus the tolerated skew, the caller
// of ctx has given up: a script that starts later writes nothing (0: no
// deadline). The caller's deadline is carried over as the time it has left,
// added to Redis's time (Now): a host whose clock disagrees with Redis's is
// judged by when its call reached Redis, not by its clock.
func (s *Store) notAfter(ctx context.Context) int64 {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	now, err := s.Clock(ctx) // a round trip only without a sample
	if err != nil {
		now = s.hostNow() // the call itself will say what is wrong
	}
	return now.Add(time.Until(dl) + s.skew).UnixMilli()
}

// errLate is the error of a call whose command reached Redis after its
// caller had given up (it sat in a partitioned network's queue): Redis did
// nothing. The caller sees it only when the reply, too, came late.
func (s *Store) errLate(op string) error {
	clocks := ""
	if off, ok := s.Offset(); ok && (off > s.skew || off < -s.skew) {
		way := "behind"
		if off < 0 {
			way, off = "ahead of", -off
		}
		clocks = fmt.Sprintf(" (this host's clock is %v %s Redis's)", off.Round(time.Millisecond), way)
	}
	return fmt.Errorf("rjwt: %s: %w: the call reached Redis after its deadline, by Redis's clock%s; nothing was done", op, ErrUnavailable, clocks)
}
