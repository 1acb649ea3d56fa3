package rjwthttp

import (
	"net/http"

	"github.com/rjwt/rjwt"
)

// This file is for adapters to other routers (rjwtgin, rjwtecho): they run
// Middleware itself, so that a request is answered exactly as here, and need
// only what is below to answer the errors a handler returns.

// MiddlewareErrorHandler returns the ErrorHandler that Middleware(c, opts...)
// answers refused requests with: WithErrorHandler's, else WriteError; it
// logs the errors Classify cannot classify (the 500s) as Middleware does,
// to WithLogger's logger or c's. Adapters answer the errors a framework's
// handler returns with it, so that a handler returning a wrapped
// rjwt.ErrUnavailable gets the 503 with Retry-After that Middleware gives.
func MiddlewareErrorHandler(c *rjwt.Client, opts ...Option) ErrorHandler {
	cfg := config{errs: errorConfig{client: c}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	e := cfg.errs
	return e.answer
}

// Classified reports whether Classify knows err: whether it has an answer
// of its own rather than the 500 "server_error" of any unknown error.
// Adapters answer the known errors a handler returns and leave the rest to
// the framework's own error handling.
func Classified(err error) bool {
	if err == nil {
		return false
	}
	status, _ := Classify(err)
	return status != http.StatusInternalServerError
}
