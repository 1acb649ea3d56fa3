package rjwt

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key layout. With the default prefix "rjwt:", user "alice" has:
//
//	rjwt:{alice}:<nanoid>   a hash per session: field "d" holds the private
//	                        session data (JSON); the key expires with the TTL
//	rjwt:{alice}:idx        a sorted set indexing the user's sessions:
//	                        member nanoid, score the expiry in Unix milliseconds
//
// The braces make "{alice}" the Redis Cluster hash tag, so all keys of one user
// live in one slot and one Lua script can touch them all. Inside the braces the
// id is escaped ('%' → "%25", '{' → "%7B", '}' → "%7D") so that no id can end
// the tag early or reach into another user's keys. Nanoids are 21 characters of
// [A-Za-z0-9_-], which makes every key name decode to exactly one user.

// MaxIDLength is the longest user id rjwt accepts, in bytes.
const MaxIDLength = 512

// nanoidLen is the length of the session part of a session name.
const nanoidLen = 21

const indexSuffix = "idx"

// validateID checks a user id: non-empty, at most MaxIDLength bytes, valid
// UTF-8 (tokens are JSON, which cannot carry other bytes back unchanged).
func validateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty user id", ErrInvalidID)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%w: user id of %d bytes is over the %d-byte limit", ErrInvalidID, len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: user id is not valid UTF-8", ErrInvalidID)
	}
	return nil
}

var idEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")
var idUnescaper = strings.NewReplacer("%25", "%", "%7B", "{", "%7D", "}")

// userBase is the part shared by all keys of one user: prefix + "{" + id + "}:".
func (c *Client) userBase(id string) string {
	if !strings.ContainsAny(id, "%{}") {
		return c.prefix + "{" + id + "}:"
	}
	return c.prefix + "{" + idEscaper.Replace(id) + "}:"
}

// sessionKey is userBase(id) + nano, built in one allocation.
func (c *Client) sessionKey(id, nano string) string {
	if !strings.ContainsAny(id, "%{}") {
		return c.prefix + "{" + id + "}:" + nano
	}
	return c.userBase(id) + nano
}

func (c *Client) indexKey(base string) string { return base + indexSuffix }

// parseKey reverses the layout: it returns the user id and nanoid of a session
// key of this client's, and ok=false for any other key (indexes included).
func (c *Client) parseKey(key string) (id, nano string, ok bool) {
	rest, found := strings.CutPrefix(key, c.prefix)
	if !found || len(rest) < nanoidLen+4 || rest[0] != '{' {
		return "", "", false
	}
	nano = rest[len(rest)-nanoidLen:]
	tag := rest[1 : len(rest)-nanoidLen]
	tag, found = strings.CutSuffix(tag, "}:")
	if !found || !validNanoid(nano) || strings.ContainsAny(tag, "{}") {
		return "", "", false
	}
	id = idUnescaper.Replace(tag)
	if validateID(id) != nil {
		return "", "", false
	}
	return id, nano, true
}

// sessionName is the public name of a session: "id:nanoid".
func sessionName(id, nano string) string { return id + ":" + nano }

// splitSession parses a session name "id:nanoid". The id may itself hold
// colons: the nanoid is always the last 21 characters.
func splitSession(session string) (id, nano string, err error) {
	if len(session) < nanoidLen+2 || session[len(session)-nanoidLen-1] != ':' {
		return "", "", fmt.Errorf("%w: %q is not a session name (id:nanoid)", ErrInvalidID, session)
	}
	id, nano = session[:len(session)-nanoidLen-1], session[len(session)-nanoidLen:]
	if !validNanoid(nano) {
		return "", "", fmt.Errorf("%w: %q is not a session name (id:nanoid)", ErrInvalidID, session)
	}
	if err := validateID(id); err != nil {
		return "", "", err
	}
	return id, nano, nil
}

func validNanoid(s string) bool {
	if len(s) != nanoidLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}
