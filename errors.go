package rjwt

import (
	"errors"

	"github.com/rjwt/rjwt/internal/store"
)

// Sentinel errors. Compare with errors.Is: the errors rjwt returns wrap these
// with detail. They are distinct: none wraps another, and none wraps an error
// of another library (golang-jwt's or go-redis's errors are in the message,
// not in the chain, so they are not part of rjwt's API).
var (
	// ErrInvalidToken: the token is malformed, too large (over MaxTokenSize),
	// not in canonical form, has a bad signature, names an unknown critical
	// header, or uses an algorithm other than its key's (including "none").
	ErrInvalidToken = errors.New("rjwt: invalid token")
	// ErrTokenExpired: the token's exp has passed (beyond the leeway).
	ErrTokenExpired = errors.New("rjwt: token expired")
	// ErrSessionNotFound: the token's session was revoked, replaced by a newer
	// session in single mode, or expired in Redis.
	ErrSessionNotFound = errors.New("rjwt: session not found")
	// ErrInvalidTTL: a TTL string that does not parse, or is under one second,
	// zero, negative or too large.
	ErrInvalidTTL = errors.New("rjwt: invalid TTL")
	// ErrInvalidID: an empty, too long or non-UTF-8 user id, or a malformed
	// session name.
	ErrInvalidID = errors.New("rjwt: invalid id")

	// ErrUnavailable: Redis could not be reached, did not answer in time, or
	// refused to work for now (out of memory under noeviction, loading its
	// data, failing over). The error wraps the real cause ("connection
	// refused", "OOM command not allowed", ...). It means "try later", never
	// "log in again": rjwthttp answers it with 503.
	ErrUnavailable = store.ErrUnavailable
	// ErrNoFieldExpiry: WithLayout(LayoutLean) on a server without
	// hash-field expiry (Redis before 7.4, Valkey before 9): every call fails
	// with it, nothing is written. LayoutAuto takes the classic layout there.
	ErrNoFieldExpiry = store.ErrNoFieldExpiry
	// ErrTooLarge: Sign was asked for a token that would be over MaxTokenSize
	// once encoded (a long id, large WithDataToken), or session data over the
	// client's limit (WithMaxSessionData). Nothing was written.
	ErrTooLarge = errors.New("rjwt: too large")
	// ErrRefreshReused: a refresh token that was already rotated away was
	// presented again. rjwt takes it for theft and has revoked the session:
	// every token of it, access and refresh, fails from then on.
	ErrRefreshReused = errors.New("rjwt: refresh token reused; session revoked")

	// ErrNoSigningKey: Sign, SignPair or Refresh on a client that only
	// verifies (given WithVerificationKey but no WithSecret or WithSigningKey).
	// Nothing was written.
	ErrNoSigningKey = errors.New("rjwt: no signing key")
	// ErrDataType: a per-field change of session data (UpdateSessionData,
	// IncrSessionData) found data that is not a JSON object, or a field to
	// increment that is not an integer (of at most 15 digits). Nothing was
	// written.
	ErrDataType = errors.New("rjwt: session data has the wrong type for this change")

	// ErrKeyNotFound is returned by the helper calls for a key that does not exist.
	ErrKeyNotFound = errors.New("rjwt: key not found")
	// ErrNoData is returned by DecodeDataToken and DecodeDataSession when there
	// is no data to decode.
	ErrNoData = errors.New("rjwt: no data")
	// ErrClosed is returned by WaitReady when the client is closed first, and
	// by calls on a closed client.
	ErrClosed = errors.New("rjwt: client closed")

	// ErrInvalidProof: a DPoP proof (RFC 9449) that is missing, malformed,
	// stale, replayed, made for another request or signed by another key
	// than the one the session is bound to; or a bound token used without
	// a proof. Nothing was written, and the session was not revoked.
	ErrInvalidProof = errors.New("rjwt: invalid DPoP proof")
)
