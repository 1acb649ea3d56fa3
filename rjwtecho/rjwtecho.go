// Package rjwtecho puts rjwt in front of echo handlers: Middleware is
// rjwthttp.Middleware for echo, answering every request exactly as it does,
// and Claims and Session give handlers what it verified and loaded.
//
// It is a module of its own, so that rjwt itself never requires echo.
//
// # Example
//
//	mw := rjwtecho.Middleware(client, rjwthttp.WithSessionData())
//	e := echo.New()
//	e.POST("/login", echo.WrapHandler(http.HandlerFunc(h.Authorize))) // h: rjwthttp.NewHandlers
//	e.POST("/refresh", echo.WrapHandler(http.HandlerFunc(h.RefreshToken)))
//	e.POST("/logout", echo.WrapHandler(http.HandlerFunc(h.Logout)), mw)
//	e.POST("/logoutAll", echo.WrapHandler(http.HandlerFunc(h.LogoutAll)), mw)
//	e.GET("/me", func(c echo.Context) error {
//		claims, _ := rjwtecho.Claims(c) // always there behind mw
//		s, _ := rjwtecho.Session(c)
//		views, err := s.Incr(c.Request().Context(), "views", 1)
//		if err != nil {
//			return err // answered as rjwthttp answers it
//		}
//		return c.JSON(200, map[string]any{"user": claims.ID, "views": views})
//	}, mw)
//
// # Session edits
//
// Handlers write through a response whose writer is rjwthttp's, so session
// edits (Session.Set, Delete) are saved before the response's headers are
// written, and a save that fails replaces the response: a change over the
// session-data limit is a 400, never a 200 with the change lost.
//
// # Errors
//
// A refused request is answered as rjwthttp.Middleware answers it (401
// with WWW-Authenticate, 503 with Retry-After, JSON bodies) and the handler
// does not run. An error a handler returns before writing its response is
// answered as rjwthttp answers it when rjwthttp.Classify knows it (a wrapped
// rjwt.ErrUnavailable is a 503 with Retry-After, not echo's 500), through
// WithErrorHandler's handler if one is given. Other errors, *echo.HTTPError
// among them, are returned to echo's HTTPErrorHandler as usual.
package rjwtecho

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// The keys of echo's context (c.Get) under which Middleware puts the
// request's *rjwt.Claims and *rjwthttp.Session. Claims and Session read
// them.
const (
	ClaimsKey  = "rjwt.claims"
	SessionKey = "rjwt.session"
)

// Middleware verifies each request's token with c and answers as
// rjwthttp.Middleware(c, opts...) does: the same options, statuses, headers
// and bodies, and the same single Redis round trip. A request it lets
// through has its claims (and with rjwthttp.WithSessionData its session) in
// echo's context (Claims, Session) and in the request's context
// (rjwthttp.FromContext, rjwthttp.SessionFromContext), so http.Handlers
// wrapped with echo.WrapHandler, rjwthttp's Logout among them, find them
// too.
func Middleware(c *rjwt.Client, opts ...rjwthttp.Option) echo.MiddlewareFunc {
	mw := rjwthttp.Middleware(c, opts...)
	answer := rjwthttp.MiddlewareErrorHandler(c, opts...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) (err error) {
			outer := ec.Response()
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// w writes to outer after saving the session; the handlers
				// write to w through a response of their own.
				inner := echo.NewResponse(w, ec.Echo())
				inner.Status = http.StatusOK // as echo's own response starts
				ec.SetResponse(inner)
				defer ec.SetResponse(outer)
				ec.SetRequest(r)
				if claims, ok := rjwthttp.FromContext(r.Context()); ok {
					ec.Set(ClaimsKey, claims)
				}
				if s, ok := rjwthttp.SessionFromContext(r.Context()); ok {
					ec.Set(SessionKey, s)
				}
				err = next(ec)
				if err != nil && !inner.Committed && answerable(err) {
					answer(inner, r, err) // through w: the session is saved first
					err = nil
				}
			})).ServeHTTP(outer, ec.Request())
			return err
		}
	}
}

// answerable: rjwthttp classifies err, and it is not echo's own.
func answerable(err error) bool {
	var he *echo.HTTPError
	return !errors.As(err, &he) && rjwthttp.Classified(err)
}

// Claims returns the claims Middleware verified for this request; false
// when it did not (no Middleware in front, or WithAnonymous and no token).
func Claims(ctx echo.Context) (*rjwt.Claims, bool) {
	if c, ok := ctx.Get(ClaimsKey).(*rjwt.Claims); ok {
		return c, true
	}
	return rjwthttp.FromContext(ctx.Request().Context())
}

// Session returns the request's session data handle; it exists behind
// Middleware with rjwthttp.WithSessionData. Its edits are saved before the
// response's headers are written.
func Session(ctx echo.Context) (*rjwthttp.Session, bool) {
	if s, ok := ctx.Get(SessionKey).(*rjwthttp.Session); ok {
		return s, true
	}
	return rjwthttp.SessionFromContext(ctx.Request().Context())
}
