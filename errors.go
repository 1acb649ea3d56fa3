package rjwt

import "errors"

// Sentinel errors. Compare with errors.Is: the errors rjwt returns wrap these
// with detail. The five are distinct; none wraps another. A Redis failure is
// returned wrapped with %w and is none of them.
var (
	// ErrInvalidToken: the token is malformed, too large (over MaxTokenSize),
	// has a bad signature, or uses an algorithm other than HS256 (including "none").
	ErrInvalidToken = errors.New("rjwt: invalid token")
	// ErrTokenExpired: the token's exp has passed.
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
)
