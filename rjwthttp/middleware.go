// Package rjwthttp puts rjwt in front of net/http handlers: a middleware that
// verifies tokens and hands their claims and session data to handlers, and
// handlers for the login, register, refresh and logout flow of
// koa-jwt-redis-session.
//
// # Example
//
//	mw := rjwthttp.Middleware(client, rjwthttp.WithSessionData())
//	mux.Handle("GET /me", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		claims, _ := rjwthttp.FromContext(r.Context())
//		s, _ := rjwthttp.SessionFromContext(r.Context())
//		var views int
//		_ = s.Get("views", &views)
//		_ = s.Set("views", views+1) // saved before the response's headers
//		fmt.Fprintf(w, "hello %s, visit %d", claims.ID, views+1)
//	})))
//
// A missing, invalid, expired or revoked token is answered 401 with
// WWW-Authenticate: Bearer error="invalid_token" (RFC 6750) and a small JSON
// body; Redis being unreachable is 503, never 401 and never a pass.
package rjwthttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rjwt/rjwt"
)

// TokenSource finds a token in a request; "" means none there.
type TokenSource func(r *http.Request) string

// BearerToken reads "Authorization: Bearer <token>" (RFC 6750 §2.1). The
// default source.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// HeaderToken reads a named header, e.g. jwt-redis-session's "x-access-token".
func HeaderToken(name string) TokenSource {
	return func(r *http.Request) string { return strings.TrimSpace(r.Header.Get(name)) }
}

// QueryToken reads a query parameter, e.g. "access_token" (RFC 6750 §2.3).
// Tokens in URLs end up in logs: prefer a header.
func QueryToken(name string) TokenSource {
	return func(r *http.Request) string { return r.URL.Query().Get(name) }
}

// CookieToken reads a cookie. Browsers send cookies with cross-site requests
// too, so routes that change state (logout, say) need CSRF protection: a
// SameSite=Lax or Strict cookie, or a CSRF token.
func CookieToken(name string) TokenSource {
	return func(r *http.Request) string {
		c, err := r.Cookie(name)
		if err != nil {
			return ""
		}
		return c.Value
	}
}

// Option configures Middleware.
type Option func(*config)

type config struct {
	sources   []TokenSource
	anonymous bool
	session   bool
	slide     time.Duration
	slideTTL  time.Duration
}

// WithTokenSources sets where the middleware looks for a token, in order; the
// first source that finds one wins. The default is BearerToken alone.
func WithTokenSources(sources ...TokenSource) Option {
	return func(c *config) { c.sources = sources }
}

// WithAnonymous lets requests that carry no token through, with no claims in
// their context. A token that is present but invalid is still a 401.
func WithAnonymous() Option { return func(c *config) { c.anonymous = true } }

// WithSessionData loads the session's private data with every request (the
// same one Redis round trip, HGET instead of EXISTS) and lets handlers read
// and change it through SessionFromContext. Changes are saved in one more
// round trip, only when there are changes, before the response's headers are
// written.
func WithSessionData() Option { return func(c *config) { c.session = true } }

// WithSliding extends the session's life in Redis to at least ttl on use, at
// most once per interval for each session the middleware sees: sliding
// expiry. It never shortens a session, and does not change a token's exp:
// the token still ends at its exp, and the client refreshes it then. It costs
// one more round trip on the requests that extend. Off by default; an interval
// or ttl of zero or less leaves it off. A ttl under one second is a
// programming error: Middleware panics on it, at once, rather than fail
// requests later.
func WithSliding(interval, ttl time.Duration) Option {
	return func(c *config) { c.slide, c.slideTTL = interval, ttl }
}

type ctxKey int

const (
	claimsKey ctxKey = iota
	sessionKey
)

// FromContext returns the claims Middleware verified for this request.
func FromContext(ctx context.Context) (*rjwt.Claims, bool) {
	c, ok := ctx.Value(claimsKey).(*rjwt.Claims)
	return c, ok
}

// Middleware verifies each request's token with c and puts its claims in the
// request's context (FromContext). One Redis round trip per request.
//
// Answers: no token (unless WithAnonymous), an invalid, expired or revoked
// token: 401 with WWW-Authenticate: Bearer error="invalid_token" and a JSON
// body {"error": "invalid_token", "error_description": "..."}. Redis
// unreachable or failing: 503 with {"error": "unavailable"}.
func Middleware(c *rjwt.Client, opts ...Option) func(http.Handler) http.Handler {
	cfg := config{sources: []TokenSource{BearerToken}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	var slider *slideTracker
	if cfg.slide > 0 && cfg.slideTTL > 0 {
		if cfg.slideTTL < time.Second {
			// Touch would refuse it (ErrInvalidTTL) on every request.
			panic("rjwthttp: WithSliding: ttl " + cfg.slideTTL.String() + " is under one second")
		}
		slider = newSlideTracker(cfg.slide)
	}
	var vopts []rjwt.VerifyOption
	if cfg.session {
		vopts = []rjwt.VerifyOption{rjwt.WithSession()}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := ""
			for _, src := range cfg.sources {
				if token = src(r); token != "" {
					break
				}
			}
			if token == "" {
				if cfg.anonymous {
					next.ServeHTTP(w, r)
					return
				}
				Unauthorized(w, "no token")
				return
			}
			claims, err := c.Verify(r.Context(), token, vopts...)
			if err != nil {
				WriteError(w, err)
				return
			}
			ctx := context.WithValue(r.Context(), claimsKey, claims)
			if slider != nil && slider.due(claims.Session) {
				if err := c.Touch(ctx, claims.Session, cfg.slideTTL); err != nil {
					slider.forget(claims.Session)
					WriteError(w, err)
					return
				}
			}
			if !cfg.session {
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
			s := &Session{client: c, name: claims.Session, raw: claims.DataSession}
			sw := &saveWriter{ResponseWriter: w, s: s, ctx: ctx}
			next.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, sessionKey, s)))
			if !sw.wrote {
				// The handler wrote nothing: save now; net/http sends 200 after us.
				if err := s.save(ctx); err != nil {
					sw.wrote = true
					WriteError(w, err)
				}
			}
		})
	}
}

// Unauthorized answers 401 with the RFC 6750 challenge and a JSON body.
func Unauthorized(w http.ResponseWriter, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+strings.ReplaceAll(description, `"`, `'`)+`"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: "invalid_token", Description: description})
}

// WriteError answers with the status an rjwt error deserves: 401 for the
// token and session sentinels (and ErrRefreshReused), 400 for ErrInvalidID and
// ErrInvalidTTL, and 503 for anything else, which is Redis failing.
func WriteError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, rjwt.ErrInvalidToken):
		Unauthorized(w, "invalid token")
	case errors.Is(err, rjwt.ErrTokenExpired):
		Unauthorized(w, "token expired")
	case errors.Is(err, rjwt.ErrSessionNotFound):
		Unauthorized(w, "session revoked or expired")
	case errors.Is(err, rjwt.ErrRefreshReused):
		Unauthorized(w, "refresh token reused; session revoked")
	case errors.Is(err, rjwt.ErrInvalidID), errors.Is(err, rjwt.ErrInvalidTTL):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid_request", Description: err.Error()})
	default:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "unavailable", Description: "session store unavailable"})
	}
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
