package rjwthttp

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rjwt/rjwt"
)

// Cookies configures cookie mode (WithCookies): browsers get the token pair
// as two HttpOnly cookies, which their JavaScript cannot read, instead of
// in the JSON body; the middleware reads the access token from its cookie
// when a request sends no Authorization header; and every unsafe request
// (POST, PUT, PATCH, DELETE, ...) that could be authenticated by a cookie
// goes through a cross-origin check (see WithCookies). Bearer clients are
// not affected: a request with an Authorization header is never checked and
// never answered with cookies.
//
// The cookies are named after Name (default "rjwt"): the access token's
// "__Host-rjwt" (Path=/, Secure, no Domain: a browser accepts it only from
// this host over HTTPS, so a sibling subdomain cannot plant one), the
// refresh token's "__Secure-rjwt-refresh" (Secure, Path=RefreshPath: sent
// to the refresh route only; __Host- would require Path=/). Browsers refuse
// Secure cookies over plain http, so for development a request over plain
// http from loopback to a loopback host (http://localhost:3333,
// http://127.0.0.1:3333) gets cookies without Secure and without the
// prefixes: "rjwt" and "rjwt-refresh". Both are SameSite=Lax by default.
// The access cookie lives as long as the access token, the refresh cookie
// as long as the refresh token.
type Cookies struct {
	// Name is the cookies' base name; see Cookies. The default is "rjwt".
	Name string
	// RefreshPath is the path RefreshToken is mounted at ("/refreshToken",
	// say): the only path the browser sends the refresh cookie to. Required:
	// NewHandlers refuses cookie mode without it.
	RefreshPath string
	// SameSite is both cookies' SameSite attribute. The default (zero) is
	// http.SameSiteLaxMode. http.SameSiteNoneMode is refused: it would send
	// the cookies with every cross-site request.
	SameSite http.SameSite
	// TrustedOrigins are origins ("https://admin.example.com", scheme, host
	// and port as a browser's Origin header gives them) whose cross-origin
	// requests are let through the cross-origin check. None by default.
	TrustedOrigins []string
	// Browser says which login and register requests are answered with
	// cookies; the others get the pair in the JSON body as without cookie
	// mode. The default, and a nil Browser, is BrowserRequest.
	Browser func(r *http.Request) bool
}

// BrowserRequest is Cookies.Browser's default: a request with a
// Sec-Fetch-Site header (sent by every major browser since 2023) or an
// Origin header (sent with every POST, fetch or form, by browsers since
// about 2020), and no Authorization header. curl, mobile apps and servers
// send neither unless told to; a browser older than that gets the pair in
// the JSON body.
func BrowserRequest(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return false
	}
	return r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Origin") != ""
}

// WithCookies turns cookie mode on for the middleware and the handlers
// (give the same option to both); see Cookies for the cookies.
//
// Cross-site request forgery: a browser sends cookies with requests that
// other sites make it send. In cookie mode every unsafe request that a
// cookie could authenticate goes through Go's http.CrossOriginProtection
// before anything else: in the middleware, every one whose token sources
// find no token (with WithAnonymous too), and in RefreshToken, every one
// whose body names no refresh token. A request the browser marks as
// cross-site or same-site but cross-origin (Sec-Fetch-Site), or, from a
// browser that does not send Sec-Fetch-Site, whose Origin header names
// another host than the request's Host, is answered 403 with ErrCrossOrigin,
// and its session lives on. GET, HEAD and OPTIONS are never checked: keep
// them free of side effects. What older browsers get: Sec-Fetch-Site is in
// Chrome and Edge since 2020, Firefox since 2021 and Safari since 16.4
// (2023); before those, the Origin check applies, which every browser sends
// with cross-origin POSTs; a browser that sends neither (older than 2020,
// roughly) is let through and relies on SameSite=Lax alone, which keeps the
// cookies off cross-site POSTs but not off those from a sibling subdomain
// (same site). Login and register deliver cookies only to requests that pass
// the check (others get the JSON pair), so another site cannot sign a
// browser in to an account of its choosing.
//
// Middleware panics, and NewHandlers returns an error wrapping
// ErrInvalidOption, on a SameSite of None or a malformed trusted origin;
// NewHandlers also on a missing or relative RefreshPath.
func WithCookies(c Cookies) SharedOption {
	return SharedOption{
		middleware: func(cfg *config) { cfg.cookies = &c },
		handlers:   func(h *Handlers) { h.cookieCfg = &c },
	}
}

// cookieMode is cookie mode as the middleware and the handlers use it.
type cookieMode struct {
	Cookies
	cop *http.CrossOriginProtection
}

// newCookieMode checks c and fills its defaults. forHandlers asks for the
// handlers' fields too (RefreshPath).
func newCookieMode(c Cookies, forHandlers bool) (*cookieMode, error) {
	if c.Name == "" {
		c.Name = "rjwt"
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.Browser == nil {
		c.Browser = BrowserRequest
	}
	switch {
	case c.SameSite == http.SameSiteNoneMode:
		return nil, fmt.Errorf("%w: WithCookies: SameSite None would send the cookies with every cross-site request", ErrInvalidOption)
	case strings.ContainsAny(c.Name, "=;, \t\r\n\"\\"):
		return nil, fmt.Errorf("%w: WithCookies: Name %q is not a cookie name", ErrInvalidOption, c.Name)
	case forHandlers && !strings.HasPrefix(c.RefreshPath, "/"):
		return nil, fmt.Errorf("%w: WithCookies: RefreshPath %q must be the refresh route's absolute path, e.g. \"/refreshToken\"", ErrInvalidOption, c.RefreshPath)
	}
	m := &cookieMode{Cookies: c, cop: http.NewCrossOriginProtection()}
	for _, o := range c.TrustedOrigins {
		if err := m.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("%w: WithCookies: trusted origin: %v", ErrInvalidOption, err)
		}
	}
	return m, nil
}

// names are the cookies' names for r, and whether they are Secure.
func (m *cookieMode) names(r *http.Request) (access, refresh string, secure bool) {
	if plainLoopback(r) {
		return m.Name, m.Name + "-refresh", false
	}
	return "__Host-" + m.Name, "__Secure-" + m.Name + "-refresh", true
}

// plainLoopback says r is development traffic: plain http, from loopback,
// to a loopback host. Behind a TLS-terminating proxy on the same machine
// the Host is the public name, so the cookies stay Secure.
func plainLoopback(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	peer := r.RemoteAddr
	if h, _, err := net.SplitHostPort(peer); err == nil {
		peer = h
	}
	return isLoopback(host) && isLoopback(peer)
}

func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// check is the cross-origin check: nil for a safe method or a request with
// an Authorization header, else http.CrossOriginProtection's verdict.
func (m *cookieMode) check(r *http.Request) error {
	if r.Header.Get("Authorization") != "" {
		return nil
	}
	if err := m.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %v", ErrCrossOrigin, err)
	}
	return nil
}

// accessToken reads the access cookie of r's kind ("" when none). Over
// HTTPS only the __Host- name counts.
func (m *cookieMode) accessToken(r *http.Request) string {
	name, _, _ := m.names(r)
	return cookieValue(r, name)
}

func (m *cookieMode) refreshToken(r *http.Request) string {
	_, name, _ := m.names(r)
	return cookieValue(r, name)
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// set delivers the pair as the two cookies.
func (m *cookieMode) set(w http.ResponseWriter, r *http.Request, p rjwt.Pair) {
	access, refresh, secure := m.names(r)
	http.SetCookie(w, m.cookie(access, "/", p.Token, p.ExpiresIn, secure))
	http.SetCookie(w, m.cookie(refresh, m.RefreshPath, p.RefreshToken, p.RefreshExpiresIn, secure))
}

// clear tells the browser to drop both cookies.
func (m *cookieMode) clear(w http.ResponseWriter, r *http.Request) {
	access, refresh, secure := m.names(r)
	http.SetCookie(w, m.cookie(access, "/", "", -1, secure))
	http.SetCookie(w, m.cookie(refresh, m.RefreshPath, "", -1, secure))
}

func (m *cookieMode) cookie(name, path, value string, life time.Duration, secure bool) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: secure, SameSite: m.SameSite}
	if life < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(life / time.Second)
	}
	return c
}

// cookieBody is the JSON body of a login or refresh answered with cookies:
// the lifetimes, never the tokens.
type cookieBody struct {
	ExpiresIn        int64 `json:"expiresIn"`
	RefreshExpiresIn int64 `json:"refreshExpiresIn"`
}

func cookieAnswer(p rjwt.Pair) cookieBody {
	return cookieBody{ExpiresIn: int64(p.ExpiresIn / time.Second), RefreshExpiresIn: int64(p.RefreshExpiresIn / time.Second)}
}
