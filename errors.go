package rjwt

import (
	"errors"

	"github.com/rjwt/rjwt/internal/store"
	"github.com/rjwt/rjwt/internal/ttl"
)

// Sentinel errors. Compare with errors.Is: the errors rjwt returns wrap these
// with detail. They are distinct: none wraps another, and none wraps an error
// of another library (golang-jwt's or go-redis's errors are in the message,
// not in the chain, so they are not part of rjwt's API). These are the ones
// of every call; the others stand beside their concern: ErrRefreshReused
// (refresh.go), ErrNoSigningKey (keyset.go), ErrDataType (data.go),
// ErrKeyNotFound (call.go), ErrNoData (claims.go), ErrClosed (events.go),
// ErrInvalidProof and ErrUseDPoPNonce (proof.go), and the authentication
// context's (authctx.go).
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
	ErrInvalidTTL = ttl.ErrInvalid
	// ErrInvalidID: an empty, too long or non-UTF-8 user id, or a malformed
	// session name.
	ErrInvalidID = store.ErrInvalidID
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
)
