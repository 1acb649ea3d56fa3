package rjwt

import (
	"context"
	"fmt"
)

// Why a session ended: the scripts that end a session keep a one-byte
// reason next to its tombstone for as long as the session would have
// lived, at most an hour (internal/store/scripts/lib/why.lua: 104 bytes
// by MEMORY USAGE, about 175 of used_memory with its expiry, per ended
// session; one PTTL more in the script),
// and Verify's and Refresh's ErrSessionNotFound carry it, for one more
// read on that failure path only.

// EndReason says why a session ended, as SessionEndedError carries it.
type EndReason string

// The reasons. EndUnknown: none was recorded (the session expired, or ended
// over an hour ago, or before this layout, or when it would have expired
// by now anyway).
const (
	EndUnknown      EndReason = ""
	EndNewerLogin   EndReason = "newer_login"   // single mode: a newer login of the user
	EndSessionCap   EndReason = "session_cap"   // WithMaxSessions' cap, by the limit policy
	EndRefreshReuse EndReason = "refresh_reuse" // a refresh token was used twice (ErrRefreshReused)
	EndRevoked      EndReason = "revoked"       // Revoke (a logout, an administrator)
	EndRevokedAll   EndReason = "revoked_all"   // RevokeAll (logout everywhere)
	EndOtherDevice  EndReason = "other_device"  // RevokeOthers from another session
	EndReissued     EndReason = "reissued"      // Reissue replaced it by a new session
)

var reasonCodes = map[string]EndReason{
	"n": EndNewerLogin, "c": EndSessionCap, "r": EndRefreshReuse, "v": EndRevoked,
	"a": EndRevokedAll, "o": EndOtherDevice, "e": EndReissued,
}

// Description is the reason in words, for a user ("" for EndUnknown).
func (r EndReason) Description() string {
	switch r {
	case EndNewerLogin:
		return "ended by a newer login"
	case EndSessionCap:
		return "ended by the session limit"
	case EndRefreshReuse:
		return "ended because its refresh token was used twice"
	case EndRevoked:
		return "revoked"
	case EndRevokedAll:
		return "ended by a logout everywhere"
	case EndOtherDevice:
		return "ended by a logout of other devices"
	case EndReissued:
		return "replaced by a reissued session"
	}
	return ""
}

// SessionEndedError is the ErrSessionNotFound of Verify and Refresh:
// errors.Is(err, ErrSessionNotFound) holds, and errors.As gives the
// session and, when Redis still knew it, why it ended.
type SessionEndedError struct {
	Session string
	Reason  EndReason
}

func (e *SessionEndedError) Error() string {
	if d := e.Reason.Description(); d != "" {
		return fmt.Sprintf("%v: %s (%s)", ErrSessionNotFound, e.Session, d)
	}
	return fmt.Sprintf("%v: %s", ErrSessionNotFound, e.Session)
}

// Unwrap makes errors.Is(err, ErrSessionNotFound) hold.
func (e *SessionEndedError) Unwrap() error { return ErrSessionNotFound }

// endedErr is the error for session id:nano not found live: one more read
// (on this failure path only) for the reason; a failed read leaves it
// unknown.
func (c *Client) endedErr(ctx context.Context, id, nano, session string) error {
	code, err := c.st.Why(ctx, id, nano)
	if err != nil {
		code = ""
	}
	return &SessionEndedError{Session: session, Reason: reasonCodes[code]}
}
