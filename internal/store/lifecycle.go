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

// The session lifecycle: Reissue, RevokeOthers, and why a session ended.

var (
	reissueScript      = load("reissue", "tomb", "now", "why")
	revokeOthersScript = load("revoke_others", "tomb", "now", "why")
)

// ErrTooMany: a multiple-mode Sign with the refusing limit policy found the
// user at the cap, and did nothing.
var ErrTooMany = errors.New("the user already holds the most sessions allowed")

// authArg is Sign's auth_time argument: "" for none.
func authArg(unix int64) string {
	if unix == 0 {
		return ""
	}
	return strconv.FormatInt(unix, 10)
}

// RevokeOthers ends every session of user id but id:keep and returns how
// many were live; ok is false (nothing ended) when id:keep is not live.
// One round trip; a second run of the same call reports the first's count.
func (s *Store) RevokeOthers(ctx context.Context, id, keep string) (int, bool, error) {
	defer s.changed(id, "")
	req, err := gonanoid.New()
	if err != nil {
		return 0, false, fmt.Errorf("rjwt: revoke others: nanoid: %w", err)
	}
	base := s.UserBase(id)
	cmd, err := s.runRevocation(ctx, "revoke others", revokeOthersScript,
		[]string{base + indexSuffix, base + keep, base + opInfix + req}, base, keep, s.ackFlag(), base+opInfix)
	if err != nil {
		return 0, false, err
	}
	n, _ := cmd.Int()
	if n < 0 {
		return 0, false, nil
	}
	return n, true, nil
}

// ReissueArgs name one Reissue: what the new session takes over from the
// old one unless set here.
type ReissueArgs struct {
	ID, Old, New string
	RefreshID    string        // the new refresh id (used when the old session has one)
	Life         time.Duration // without a refresh token; 0: the old session's remaining life
	LifePair     time.Duration // with a refresh token; 0: the old session's remaining life
	Access       time.Duration // 0: the old session's access TTL
	Data         []byte
	SetData      bool
	Meta         []byte
	SetMeta      bool
	AuthTime     int64 // Unix s; 0: the old session's
	AMR          string
	SetAMR       bool
}

// ReissueResult is what the new session got. Live is false when the old
// session was not live (nothing was written).
type ReissueResult struct {
	Live      bool
	Life      time.Duration // the new session's life
	Access    time.Duration // its access TTL; 0 without a refresh token
	At        time.Time     // when it was made, by Redis's clock
	AuthTime  int64         // Unix s; -1: none recorded
	AMR       string        // methods joined by spaces
	RefreshID string        // "" without a refresh token
	JKT       string        // the DPoP key thumbprint the session is bound to ("": none)
}

// Reissue replaces session a.ID:a.Old by a.ID:a.New (reissue.lua). One
// round trip; run twice (a retry after a lost reply), the second run
// answers the first's new session, never a second one.
func (s *Store) Reissue(ctx context.Context, a ReissueArgs) (ReissueResult, error) {
	defer s.changed(a.ID, a.Old)
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	base := s.UserBase(a.ID)
	amr := ""
	if a.SetAMR {
		amr = "=" + a.AMR
	}
	cmd, err := s.runPiped(ctx, "reissue", reissueScript,
		[]string{base + indexSuffix, base + a.Old, base + a.New, base + opInfix + a.New, base + opInfix + a.Old},
		a.Old, a.New, a.RefreshID, a.Life.Milliseconds(), a.Access.Milliseconds(), flag(a.SetData), a.Data,
		flag(a.SetMeta), a.Meta, authArg(a.AuthTime), amr, s.notAfter(ctx), a.LifePair.Milliseconds())
	if err != nil {
		return ReissueResult{}, err
	}
	res, _ := cmd.Slice()
	if len(res) == 0 {
		return ReissueResult{}, fmt.Errorf("rjwt: reissue: unexpected reply %v", cmd.Val())
	}
	switch st, _ := res[0].(int64); {
	case st == -1:
		return ReissueResult{}, s.errLate("reissue")
	case st != 1 || len(res) < 7:
		return ReissueResult{}, nil
	}
	num := func(v any) int64 { n, _ := v.(int64); return n }
	str := func(v any) string { x, _ := v.(string); return x }
	return ReissueResult{
		Live: true, Life: time.Duration(num(res[1])) * time.Millisecond, Access: time.Duration(num(res[2])) * time.Millisecond,
		At: time.UnixMilli(num(res[3])), AuthTime: num(res[4]), AMR: str(res[5]), RefreshID: str(res[6]), JKT: str(at(res, 7)),
	}, nil
}

// at is res[i], or nil past its end (an answer kept by an older version).
func at(res []any, i int) any {
	if i < len(res) {
		return res[i]
	}
	return nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// Why is the reason session id:nano ended, as lib/why.lua keeps it (as
// long as the session would have lived, at most an hour): one of "n" (a newer login), "c" (the cap), "r" (refresh token
// reuse), "v" (Revoke), "a" (RevokeAll), "o" (RevokeOthers), "e" (replaced
// by Reissue); "" when none is known. One read.
func (s *Store) Why(ctx context.Context, id, nano string) (string, error) {
	ctx, cancel := s.Bound(ctx)
	defer cancel()
	v, err := s.rdb.Get(ctx, s.UserBase(id)+opInfix+"why:"+nano).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", s.Wrap("verify", err)
	}
	return v, nil
}
