package store

import "errors"

// Transient reports whether err means Redis could not be reached, did not
// answer in time or refused to work for now (what ErrUnavailable stands
// for), wrapped as ErrUnavailable or still raw: a failure that goes away by
// itself, as opposed to one an operator must fix.
func Transient(err error) bool {
	return errors.Is(err, ErrUnavailable) || unavailable(err)
}
