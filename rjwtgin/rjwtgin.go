// Package rjwtgin puts rjwt in front of gin handlers: Middleware is
// rjwthttp.Middleware for gin, answering every request exactly as it does,
// and Claims and Session give handlers what it verified and loaded.
//
// It is a module of its own, so that rjwt itself never requires gin.
//
// # Example
//
//	mw := rjwtgin.Middleware(client, rjwthttp.WithSessionData())
//	r := gin.New()
//	r.POST("/login", gin.WrapF(h.Authorize)) // h: rjwthttp.NewHandlers
//	r.POST("/refresh", gin.WrapF(h.RefreshToken))
//	auth := r.Group("/", mw)
//	auth.POST("/logout", gin.WrapF(h.Logout))
//	auth.POST("/logoutAll", gin.WrapF(h.LogoutAll))
//	auth.GET("/me", func(c *gin.Context) {
//		claims, _ := rjwtgin.Claims(c) // always there behind mw
//		s, _ := rjwtgin.Session(c)
//		views, err := s.Incr(c, "views", 1)
//		if err != nil {
//			c.Error(err) // rjwt's errors are answered as rjwthttp answers them
//			return
//		}
//		c.JSON(200, gin.H{"user": claims.ID, "views": views})
//	})
//
// # Session edits
//
// gin writes responses through its own ResponseWriter, so Middleware puts a
// writer of its own in front of the handlers: rjwthttp's rule holds as with
// net/http. Session edits (Session.Set, Delete) are saved before the
// response's headers are written, and a save that fails replaces the
// response: a change over the session-data limit is a 400, never a 200 with
// the change lost.
//
// # Errors
//
// A refused request is answered as rjwthttp.Middleware answers it (401
// with WWW-Authenticate, 503 with Retry-After, JSON bodies) and the chain is
// aborted. A handler that records an error with c.Error and writes nothing
// gets the answer rjwthttp gives that error, when rjwthttp.Classify knows it
// (a wrapped rjwt.ErrUnavailable is a 503 with Retry-After, a
// rjwt.ErrSessionNotFound a 401, ...), through WithErrorHandler's handler if
// one is given. Errors rjwthttp does not know are left in c.Errors to the
// application's own error handling, as gin leaves them.
package rjwtgin

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// The keys of gin's context (c.Get) under which Middleware puts the
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
// gin's context (Claims, Session) and in the request's context
// (rjwthttp.FromContext, rjwthttp.SessionFromContext), so http.Handlers
// wrapped with gin.WrapH, rjwthttp's Logout among them, find them too. A
// request it refuses is aborted.
func Middleware(c *rjwt.Client, opts ...rjwthttp.Option) gin.HandlerFunc {
	mw := rjwthttp.Middleware(c, opts...)
	answer := rjwthttp.MiddlewareErrorHandler(c, opts...)
	return func(ctx *gin.Context) {
		passed := false
		outer := ctx.Writer
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			gw := &writer{ResponseWriter: outer, to: w, status: http.StatusOK, size: -1}
			ctx.Writer = gw
			defer func() { ctx.Writer = outer }()
			ctx.Request = r
			if claims, ok := rjwthttp.FromContext(r.Context()); ok {
				ctx.Set(ClaimsKey, claims)
			}
			if s, ok := rjwthttp.SessionFromContext(r.Context()); ok {
				ctx.Set(SessionKey, s)
			}
			ctx.Next()
			if gw.Written() {
				return
			}
			if err := classified(ctx.Errors); err != nil {
				answer(gw, r, err)  // through gw: the session is saved first
				gw.WriteHeaderNow() // an ErrorHandler may set a status and write no body
				return
			}
			// Nothing written: rjwthttp saves the session when we return,
			// before gin sends the status the handlers set.
			outer.WriteHeader(gw.status)
		})).ServeHTTP(outer, ctx.Request)
		if !passed {
			ctx.Abort()
		}
	}
}

// classified is the last error of errs that rjwthttp classifies, or nil.
func classified(errs []*gin.Error) error {
	for i := len(errs) - 1; i >= 0; i-- {
		if rjwthttp.Classified(errs[i].Err) {
			return errs[i].Err
		}
	}
	return nil
}

// Claims returns the claims Middleware verified for this request; false
// when it did not (no Middleware in front, or WithAnonymous and no token).
func Claims(ctx *gin.Context) (*rjwt.Claims, bool) {
	if v, ok := ctx.Get(ClaimsKey); ok {
		c, ok := v.(*rjwt.Claims)
		return c, ok
	}
	if ctx.Request == nil {
		return nil, false
	}
	return rjwthttp.FromContext(ctx.Request.Context())
}

// Session returns the request's session data handle; it exists behind
// Middleware with rjwthttp.WithSessionData. Its edits are saved before the
// response's headers are written.
func Session(ctx *gin.Context) (*rjwthttp.Session, bool) {
	if v, ok := ctx.Get(SessionKey); ok {
		s, ok := v.(*rjwthttp.Session)
		return s, ok
	}
	if ctx.Request == nil {
		return nil, false
	}
	return rjwthttp.SessionFromContext(ctx.Request.Context())
}
