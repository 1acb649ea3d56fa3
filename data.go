package rjwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/rjwt/rjwt/internal/store"
)

// ErrDataType: a per-field change of session data (UpdateSessionData,
// IncrSessionData) found data that is not a JSON object, or a field to
// increment that is not an integer (of at most 15 digits). Nothing was
// written.
var ErrDataType = errors.New("rjwt: session data has the wrong type for this change")

// Session data written by concurrent requests.
//
// SetSessionData replaces the whole data, so two requests that each read
// the data, change one field and write it all back lose one change. The
// calls below change single top-level fields of the data (a JSON object)
// inside Redis, atomically, keeping every other field as Redis has it:
// requests that change different fields all keep their changes, and
// increments add up. Two requests that set the same field: the last one
// wins. rjwt chose per-field updates over a version check that reports a
// conflict because it serves both common cases without a retry loop in the
// caller: settings that are written field by field, and counters.

// DataChange is one change of UpdateSessionData: make it with SetField or
// DeleteField.
type DataChange struct {
	name  string
	value json.RawMessage // nil: delete
	err   error
}

// SetField sets top-level field name of the session data to v, JSON-encoded.
func SetField(name string, v any) DataChange {
	b, err := json.Marshal(v)
	if err != nil {
		err = fmt.Errorf("rjwt: SetField %q: %w", name, err)
	}
	return DataChange{name: name, value: b, err: err}
}

// DeleteField removes top-level field name of the session data, if present.
func DeleteField(name string) DataChange { return DataChange{name: name} }

// UpdateSessionData applies changes to the private data of a live session,
// in order, in one atomic step, leaving the data's other fields as they are
// in Redis. The data must be a JSON object, or none (then it becomes one).
// It never creates a session. One Redis round trip; a retry of it is
// harmless.
//
// Errors: ErrSessionNotFound; ErrDataType when the data is not a JSON
// object; ErrTooLarge when the result would be over WithMaxSessionData
// (nothing is written); ErrInvalidID for a malformed session name; an error
// from SetField's encoding; ErrUnavailable.
func (c *Client) UpdateSessionData(ctx context.Context, session string, changes ...DataChange) (err error) {
	ctx, call := c.begin(ctx, OpUpdateSessionData)
	defer func() { c.end(ctx, call, err) }()
	id, nano, err := store.SplitSession(session)
	if err != nil {
		return err
	}
	fc := make([]store.FieldChange, 0, len(changes))
	size := 0
	for _, ch := range changes {
		if ch.err != nil {
			return ch.err
		}
		lit, err := fieldLiteral(ch.name)
		if err != nil {
			return err
		}
		size += len(lit) + len(ch.value)
		fc = append(fc, store.FieldChange{Name: ch.name, Literal: lit, Value: ch.value})
	}
	if size > c.maxData {
		return fmt.Errorf("%w: the changes alone take %d bytes, over the %d-byte limit (WithMaxSessionData)", ErrTooLarge, size, c.maxData)
	}
	if len(fc) == 0 {
		return nil
	}
	st, err := c.st.UpdateData(ctx, id, nano, c.maxData, fc)
	if err != nil {
		return err
	}
	return dataErr(st, session, "")
}

// IncrSessionData adds delta to the integer top-level field name of a live
// session's private data (a missing field counts as 0) and returns the sum,
// atomically: n concurrent calls with delta 1 add n. One Redis round trip;
// a retry after a lost reply returns the first run's sum, never adds twice.
//
// Errors: as UpdateSessionData, and ErrDataType when the field holds
// anything but an integer of at most 15 digits, or the sum would not be.
func (c *Client) IncrSessionData(ctx context.Context, session, name string, delta int64) (_ int64, err error) {
	ctx, call := c.begin(ctx, OpIncrSessionData)
	defer func() { c.end(ctx, call, err) }()
	id, nano, err := store.SplitSession(session)
	if err != nil {
		return 0, err
	}
	lit, err := fieldLiteral(name)
	if err != nil {
		return 0, err
	}
	n, st, err := c.st.IncrData(ctx, id, nano, c.maxData, name, lit, delta)
	if err != nil {
		return 0, err
	}
	return n, dataErr(st, session, name)
}

// fieldLiteral is name as a JSON string, as encoding/json writes object keys.
func fieldLiteral(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: field name %q is not valid UTF-8", ErrDataType, name)
	}
	b, err := json.Marshal(name)
	if err != nil {
		return "", fmt.Errorf("rjwt: field name %q: %w", name, err)
	}
	return string(b), nil
}

func dataErr(st store.DataStatus, session, field string) error {
	switch st {
	case store.DataDone:
		return nil
	case store.DataGone:
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	case store.DataNotObject:
		return fmt.Errorf("%w: the data of %s is not a JSON object", ErrDataType, session)
	case store.DataNotInteger:
		return fmt.Errorf("%w: field %q of %s is not an integer of at most 15 digits", ErrDataType, field, session)
	case store.DataTooLarge:
		return fmt.Errorf("%w: the session data would be over the limit (WithMaxSessionData)", ErrTooLarge)
	}
	return fmt.Errorf("rjwt: session data: unexpected status %d", st)
}
