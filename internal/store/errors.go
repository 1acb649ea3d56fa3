package store

import "errors"

// ErrUnavailable is rjwt.ErrUnavailable (the public name lives in the root
// package's errors.go): Redis could not be reached, did not answer in time,
// or refused to work for now (out of memory, loading, failing over). Its
// text has no "rjwt: " of its own: it is always wrapped by an operation that
// names itself ("rjwt: sign: redis unavailable: dial tcp ..."), so the
// package is said once.
var ErrUnavailable = errors.New("redis unavailable")
