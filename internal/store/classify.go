package store

import (
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The one classifier of Redis's error replies: every rule below (and the
// command-line tool's) reads an error's reply code here, never the message
// by its own prefix.

// ReplyCode is the code of a Redis error reply, its first word ("OOM",
// "MOVED", "LOADING"...), or "" when err is no error reply (nil, a network
// failure, a timeout).
func ReplyCode(err error) string {
	var re redis.Error
	if !errors.As(err, &re) {
		return ""
	}
	code, _, _ := strings.Cut(re.Error(), " ")
	return code
}

// The reply codes, by what they mean to rjwt.
var (
	// codesUnavailable mean "not now" (ErrUnavailable): out of memory under
	// noeviction, loading a dataset, a replica or cluster in failover (a
	// MOVED reaches rjwt only from a call it sent to one node, whose slot
	// moved to another), a script running too long, no replica to ack.
	codesUnavailable = codes("OOM", "LOADING", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS", "MISCONF", "MOVED")
	// codesRetryable mean "send it again, elsewhere or a little later": the
	// call did nothing.
	codesRetryable = codes("LOADING", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY")
	// codesMoved mean the node no longer serves the slot.
	codesMoved = codes("MOVED", "ASK")
	// codesWriteRefused mean a script that writes will not run here: a
	// read-only replica, or out of memory.
	codesWriteRefused = codes("READONLY", "OOM")
	// codesRefused mean the server refuses the command itself (an unknown
	// command or option, an ACL without it).
	codesRefused = codes("ERR", "NOPERM")
)

func codes(c ...string) map[string]bool {
	m := make(map[string]bool, len(c))
	for _, s := range c {
		m[s] = true
	}
	return m
}

// Refused reports a server that refuses the command itself (ERR, NOPERM).
func Refused(err error) bool { return codesRefused[ReplyCode(err)] }

// WrongType reports a key of another type than the command's.
func WrongType(err error) bool { return ReplyCode(err) == "WRONGTYPE" }

// NoScript reports an EVALSHA of a script the server does not have.
func NoScript(err error) bool { return ReplyCode(err) == "NOSCRIPT" }
