package store

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/rjwt/rjwt/internal/jsonfast"
)

// ErrInvalidID is rjwt.ErrInvalidID.
var ErrInvalidID = errors.New("rjwt: invalid id")

// ValidateID checks a user id: non-empty, valid UTF-8 (tokens are JSON,
// which cannot carry other bytes back unchanged), at most MaxIDLength bytes
// once JSON-encoded.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty user id", ErrInvalidID)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%w: user id of %d bytes is over the %d-byte limit", ErrInvalidID, len(id), MaxIDLength)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: user id is not valid UTF-8", ErrInvalidID)
	}
	if n := jsonfast.Len(id); n > MaxIDLength {
		return fmt.Errorf("%w: user id takes %d bytes in a token (JSON escapes some characters), over the %d-byte limit", ErrInvalidID, n, MaxIDLength)
	}
	return nil
}

// SplitSession parses a session name "id:nanoid". The id may itself hold
// colons: the nanoid is always the last 21 characters.
func SplitSession(session string) (id, nano string, err error) {
	if len(session) < NanoidLen+2 || session[len(session)-NanoidLen-1] != ':' {
		return "", "", fmt.Errorf("%w: %q is not a session name (id:nanoid)", ErrInvalidID, session)
	}
	id, nano = session[:len(session)-NanoidLen-1], session[len(session)-NanoidLen:]
	if !ValidNanoid(nano) {
		return "", "", fmt.Errorf("%w: %q is not a session name (id:nanoid)", ErrInvalidID, session)
	}
	if err := ValidateID(id); err != nil {
		return "", "", err
	}
	return id, nano, nil
}
