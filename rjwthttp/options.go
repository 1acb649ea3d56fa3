package rjwthttp

import "log/slog"

// Option configures Middleware. WithAnonymous, WithSessionData and the
// other middleware-only options return one; the options that configure the
// middleware and the handlers alike (WithErrorHandler, WithLogger,
// WithCookies) return a SharedOption, which is both an Option and a
// HandlerOption.
type Option interface{ applyMiddleware(*config) }

// HandlerOption configures Handlers (NewHandlers).
type HandlerOption interface{ applyHandlers(*Handlers) }

// middlewareOption is an Option that configures the middleware only.
type middlewareOption func(*config)

func (o middlewareOption) applyMiddleware(c *config) { o(c) }

// handlersOption is a HandlerOption that configures the handlers only.
type handlersOption func(*Handlers)

func (o handlersOption) applyHandlers(h *Handlers) { o(h) }

// SharedOption configures Middleware and Handlers alike: give the same
// value to both (the same error handler, logger or cookies for the whole
// flow). It is an Option and a HandlerOption.
type SharedOption struct {
	middleware func(*config)
	handlers   func(*Handlers)
}

func (o SharedOption) applyMiddleware(c *config) {
	if o.middleware != nil {
		o.middleware(c)
	}
}

func (o SharedOption) applyHandlers(h *Handlers) {
	if o.handlers != nil {
		o.handlers(h)
	}
}

// WithErrorHandler sets how the middleware and the handlers answer the
// requests they refuse or fail: no token, a refused token or refresh token,
// refused credentials, a malformed body, Redis or the account store
// unavailable, a failed session save, a cross-site request in cookie mode,
// and the rest. The default is WriteError; Classify gives a custom handler
// the default's status. A nil h keeps the default.
func WithErrorHandler(h ErrorHandler) SharedOption {
	set := func(e *errorConfig) { e.handler = h }
	return SharedOption{
		middleware: func(c *config) { set(&c.errs) },
		handlers:   func(hs *Handlers) { set(&hs.errs) },
	}
}

// WithLogger sets where the middleware and the handlers log the errors they
// cannot classify (the 500s of Classify: an Accounts error that is none of
// this package's sentinels, a per-user sign option rjwt refuses, ...), at
// Error level with the error, the method and the path; they log them
// whichever ErrorHandler answers. The default, and a nil l, is the client's
// logger (rjwt.WithLogger) or, when it has none, slog.Default() at the time
// of logging.
func WithLogger(l *slog.Logger) SharedOption {
	set := func(e *errorConfig) { e.logger = l }
	return SharedOption{
		middleware: func(c *config) { set(&c.errs) },
		handlers:   func(hs *Handlers) { set(&hs.errs) },
	}
}

// WithHandlersErrorHandler is WithErrorHandler for the handlers only.
//
// Deprecated: use WithErrorHandler, which configures the middleware and the
// handlers alike.
func WithHandlersErrorHandler(eh ErrorHandler) HandlerOption {
	return handlersOption(func(h *Handlers) { h.errs.handler = eh })
}

// WithHandlersLogger is WithLogger for the handlers only.
//
// Deprecated: use WithLogger, which configures the middleware and the
// handlers alike.
func WithHandlersLogger(l *slog.Logger) HandlerOption {
	return handlersOption(func(h *Handlers) { h.errs.logger = l })
}
