// Package rjwthttp puts rjwt in front of net/http handlers: a middleware that
// verifies tokens and hands their claims and session data to handlers, and
// handlers for the login, register, refresh and logout flow of
// koa-jwt-redis-session.
//
// # Example
//
// The example below is Example in example_test.go, which runs it.
//
//	mw := rjwthttp.Middleware(client, rjwthttp.WithSessionData())
//	mux := http.NewServeMux()
//	mux.Handle("GET /me", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		claims, _ := rjwthttp.FromContext(r.Context()) // always there behind mw
//		s, _ := rjwthttp.SessionFromContext(r.Context())
//		var views int
//		if _, err := s.Get("views", &views); err != nil {
//			http.Error(w, err.Error(), http.StatusInternalServerError)
//			return
//		}
//		if err := s.Set("views", views+1); err != nil { // saved before the response's headers
//			http.Error(w, err.Error(), http.StatusInternalServerError)
//			return
//		}
//		fmt.Fprintf(w, "hello %s, visit %d\n", claims.ID, views+1)
//	})))
//
// A request without a token is answered 401 with "WWW-Authenticate: Bearer"
// (RFC 6750 §3.1: no error code when the request had no credentials); an
// invalid, expired or revoked token 401 with WWW-Authenticate: Bearer
// error="invalid_token"; both with a small JSON body. Redis being unavailable
// is 503 with Retry-After, never 401 and never a pass. WithErrorHandler
// replaces these answers, for the middleware and the handlers alike;
// Classify says which is which.
//
// # Browsers
//
// WithCookies, given to Middleware and NewHandlers, delivers the token pair
// to browsers as HttpOnly cookies and protects every unsafe request a
// cookie could authenticate against cross-site request forgery with Go's
// http.CrossOriginProtection. Clients sending "Authorization: Bearer" are
// not affected.
package rjwthttp

import (
	"context"
	"encoding/json"
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
// too, so routes that change state (logout, say) need CSRF protection:
// prefer WithCookies, which reads its own cookie and checks every unsafe
// request's origin.
func CookieToken(name string) TokenSource {
	return func(r *http.Request) string {
		c, err := r.Cookie(name)
		if err != nil {
			return ""
		}
		return c.Value
	}
}

type config struct {
	sources    []TokenSource
	anonymous  bool
	session    bool
	slide      time.Duration
	slideTTL   time.Duration
	errs       errorConfig
	cookies    *Cookies      // WithCookies
	authWithin time.Duration // RequireAuthWithin (lifecycle.go)
	dpop       dpopConfig
}

// WithTokenSources sets where the middleware looks for a token, in order; the
// first source that finds one wins. The default is BearerToken alone.
func WithTokenSources(sources ...TokenSource) Option {
	return middlewareOption(func(c *config) { c.sources = sources })
}

// WithAnonymous lets requests that carry no token through, with no claims in
// their context. A token that is present but invalid is still a 401.
func WithAnonymous() Option { return middlewareOption(func(c *config) { c.anonymous = true }) }

// WithSessionData loads the session's private data with every request (the
// same one Redis round trip, HGET instead of EXISTS) and lets handlers read
// and change it through SessionFromContext. Changes are saved in one more
// round trip, only when there are changes, before the response's headers are
// written.
func WithSessionData() Option { return middlewareOption(func(c *config) { c.session = true }) }

// WithSliding extends the session's life in Redis to at least ttl on use, at
// most once per interval for each session the middleware sees (rjwt's
// Touch), never past the session's absolute end (its tokens' expiry). It
// never shortens a session, and does not change a token's exp. It costs one
// more round trip on the requests that extend. Off by default; an interval
// or ttl of zero or less leaves it off. A ttl under one second is a
// programming error: Middleware panics on it, at once, rather than fail
// requests later.
//
// Deprecated: a session's life in Redis already matches its tokens', so
// this extends only sessions with an idle timeout, which every Verify
// already extends in its own round trip. Use rjwt.WithIdleTimeout on the
// client.
func WithSliding(interval, ttl time.Duration) Option {
	return middlewareOption(func(c *config) { c.slide, c.slideTTL = interval, ttl })
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
// request's context (FromContext). One Redis round trip per request. With
// WithCookies, a request whose token sources find nothing is read from the
// access cookie, after the cross-origin check for unsafe methods (403
// ErrCrossOrigin).
//
// Answers, by default (WithErrorHandler changes them): no token (unless
// WithAnonymous): 401 with "WWW-Authenticate: Bearer" and the JSON body
// {"error": "credentials_required", ...}; an invalid, expired or revoked
// token: 401 with WWW-Authenticate: Bearer error="invalid_token" and
// {"error": "invalid_token", "error_description": "..."}; Redis unavailable
// (rjwt.ErrUnavailable): 503 with Retry-After and {"error": "unavailable"};
// an error it cannot classify: 500 {"error": "server_error"}, logged
// (WithLogger). See Classify.
//
// DPoP (RFC 9449): a request with "Authorization: DPoP <token>" and a
// "DPoP" proof header is verified with rjwt.WithProof, the proof checked
// against the request's method and URL (WithPublicURL behind a proxy) and,
// with WithDPoPNonce, a server nonce; its refusals are 401 with
// WWW-Authenticate: DPoP error="invalid_dpop_proof", "use_dpop_nonce" or
// "invalid_token". A token bound to a key and sent as Bearer is refused.
func Middleware(c *rjwt.Client, opts ...Option) func(http.Handler) http.Handler {
	cfg := config{sources: []TokenSource{BearerToken}, errs: errorConfig{client: c}}
	for _, o := range opts {
		if o != nil {
			o.applyMiddleware(&cfg)
		}
	}
	var cookies *cookieMode
	if cfg.cookies != nil {
		var err error
		if cookies, err = newCookieMode(*cfg.cookies, false); err != nil {
			panic(err.Error()) // a programming error, at once rather than on every request
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
	vopts := cfg.verifyOptions()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, proof, err := cfg.requestToken(w, r, cookies) // dpop.go
			if err != nil {
				cfg.errs.answer(w, r, err)
				return
			}
			if token == "" {
				if cfg.anonymous {
					next.ServeHTTP(w, r)
					return
				}
				cfg.errs.answer(w, r, ErrNoToken)
				return
			}
			claims, err := c.Verify(r.Context(), token, verifyOpts(vopts, proof)...)
			if err != nil {
				cfg.errs.answer(w, r, dpopErr(err, proof))
				return
			}
			ctx := context.WithValue(r.Context(), claimsKey, claims)
			if slider != nil && slider.due(claims.Session) {
				if err := c.Touch(ctx, claims.Session, cfg.slideTTL); err != nil {
					slider.forget(claims.Session)
					cfg.errs.answer(w, r, ownFault(err)) // the ttl is the application's
					return
				}
			}
			if !cfg.session {
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
			s := &Session{client: c, name: claims.Session, raw: claims.DataSession}
			r = r.WithContext(context.WithValue(ctx, sessionKey, s))
			sw := &saveWriter{ResponseWriter: w, s: s, r: r, errs: &cfg.errs}
			next.ServeHTTP(sw, r)
			if !sw.wrote {
				// The handler wrote nothing: save now; net/http sends 200 after us.
				if err := s.save(ctx); err != nil {
					sw.wrote = true
					cfg.errs.answer(w, r, err)
				}
			}
		})
	}
}

// token finds the request's token: in the sources, in order, then in the
// access cookie (cookies, when not nil). Only a cookie can authenticate the
// request then, so an unsafe one from another origin is refused first,
// whether the browser sent the cookie or not.
func (cfg *config) token(r *http.Request, cookies *cookieMode) (string, error) {
	for _, src := range cfg.sources {
		if token := src(r); token != "" {
			return token, nil
		}
	}
	if cookies == nil {
		return "", nil
	}
	if err := cookies.check(r); err != nil {
		return "", err
	}
	return cookies.accessToken(r), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
