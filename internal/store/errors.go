package store

import "errors"

// ErrUnavailable is rjwt.ErrUnavailable (the public name lives in the root
// package's errors.go): Redis could not be reached, did not answer in time,
// or refused to work for now (out of memory, loading, failing over).
var ErrUnavailable = errors.New("rjwt: redis unavailable")
