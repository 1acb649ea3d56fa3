package rjwthttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rjwt/rjwt"
)

// Credentials are what login (Authorize) and register read from a request:
// by default the JSON body {"account", "password"} or a form post with
// those fields (WithCredentials changes the names).
type Credentials struct {
	Account  string `json:"account"`
	Password string `json:"password"`
}

// Accounts is the application's account store. rjwt has no default: nothing
// accepts a password unless the application says so. Its errors choose the
// answer: ErrInvalidCredentials 401, ErrAccountExists 409, ErrBadInput 400,
// ErrUnavailable 503, anything else 500.
type Accounts interface {
	// Authenticate returns the user id for valid credentials, or
	// ErrInvalidCredentials.
	Authenticate(ctx context.Context, c Credentials) (id string, err error)
	// Register creates an account and returns its user id, or
	// ErrAccountExists or an error wrapping ErrBadInput.
	Register(ctx context.Context, c Credentials) (id string, err error)
}

// Handlers serve the action flow of koa-jwt-redis-session over JSON: login
// (Authorize), Register, RefreshToken, Logout and LogoutAll, and the device
// list (Sessions). Make them with NewHandlers.
type Handlers struct {
	client   *rjwt.Client
	accounts Accounts
	signOpts []rjwt.SignOption
	maxBody  int64
	errs     errorConfig
	meta     func(*http.Request) map[string]string
	creds    CredentialsDecoder

	cookieCfg *Cookies    // WithCookies
	cookies   *cookieMode // from cookieCfg, checked

	reissueOpts func(*http.Request, *rjwt.Claims) ([]rjwt.SignOption, error) // WithReissueOptions
	dpop        dpopConfig                                                   // dpop.go
}

// WithSignOptions sets the options of every SignPair the handlers make, e.g.
// rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 days"). NewHandlers
// refuses an option rjwt refuses (a TTL that does not parse, a
// WithDataToken that cannot be marshalled). Per-user options: see
// AccountSignOptions.
func WithSignOptions(opts ...rjwt.SignOption) HandlerOption {
	return handlersOption(func(h *Handlers) { h.signOpts = opts })
}

// WithDeviceMeta sets what login (Authorize, Register) records about the
// device with the new session (rjwt.WithMeta), for the device list. The
// default is DeviceMeta: the user agent and the client IP as r.RemoteAddr
// gives it. Behind a proxy you trust, pass a function that reads the
// address the proxy reports (X-Forwarded-For's last hop it added, say);
// rjwthttp never trusts such headers on its own. A nil f records nothing.
func WithDeviceMeta(f func(*http.Request) map[string]string) HandlerOption {
	return handlersOption(func(h *Handlers) { h.meta = f })
}

// maxUserAgent is the most of a User-Agent header DeviceMeta keeps, in bytes.
const maxUserAgent = 512

// DeviceMeta is WithDeviceMeta's default: {"userAgent": the User-Agent
// header (its first 512 bytes), "ip": the host part of r.RemoteAddr}, the
// address of the peer that connected: a proxy's when there is one, never a
// header's claim. Empty values are left out.
func DeviceMeta(r *http.Request) map[string]string {
	m := map[string]string{}
	if ua := r.UserAgent(); ua != "" {
		if len(ua) > maxUserAgent {
			ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
		}
		m["userAgent"] = ua
	}
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if ip != "" {
		m["ip"] = ip
	}
	return m
}

// WithMaxBody sets the largest body the handlers read, in bytes. The
// default is 16 KiB.
func WithMaxBody(n int64) HandlerOption {
	return handlersOption(func(h *Handlers) { h.maxBody = n })
}

// NewHandlers makes the handlers. Both arguments are required. It checks
// the options now rather than fail every login later: an error wraps
// ErrInvalidOption (WithCookies without a RefreshPath, a WithMaxBody under
// one byte), or rjwt's sentinel for a sign option rjwt refuses
// (rjwt.ErrInvalidTTL for WithSignOptions(rjwt.WithTTL("15 minuts"))).
func NewHandlers(c *rjwt.Client, accounts Accounts, opts ...HandlerOption) (*Handlers, error) {
	if c == nil || accounts == nil {
		return nil, fmt.Errorf("%w: NewHandlers needs a client and an Accounts; there is no default account store", ErrInvalidOption)
	}
	h := &Handlers{client: c, accounts: accounts, maxBody: 16 << 10, errs: errorConfig{client: c}, meta: DeviceMeta,
		creds: CredentialFields("account", "password")}
	for _, o := range opts {
		if o != nil {
			o.applyHandlers(h)
		}
	}
	if h.maxBody < 1 {
		return nil, fmt.Errorf("%w: WithMaxBody(%d): want at least one byte", ErrInvalidOption, h.maxBody)
	}
	if err := checkSignOptions(h.signOpts); err != nil {
		return nil, err
	}
	if h.cookieCfg != nil {
		m, err := newCookieMode(*h.cookieCfg, true)
		if err != nil {
			return nil, err
		}
		h.cookies = m
	}
	return h, nil
}

// Authorize logs in: POST {"account", "password"} (or a form post;
// WithCredentials) → 200 with a rjwt.Pair; 401 on wrong credentials; 400 on
// a malformed body. The session records the device (WithDeviceMeta). In
// cookie mode a browser (Cookies.Browser) gets the pair as cookies and
// {"expiresIn", "refreshExpiresIn"} in the body, unless the request came
// from another origin (the cross-origin check refuses it): that one gets
// the JSON pair, so a forged login sets no cookie and a bearer client on
// another origin works as without cookie mode.
func (h *Handlers) Authorize(w http.ResponseWriter, r *http.Request) {
	h.credentialed(w, r, h.accounts.Authenticate)
}

// Register creates an account and logs it in: POST {"account", "password"}
// (or a form post) → 200 with a rjwt.Pair, as Authorize; 409 if the account
// exists; 400 on bad input.
func (h *Handlers) Register(w http.ResponseWriter, r *http.Request) {
	h.credentialed(w, r, h.accounts.Register)
}

func (h *Handlers) credentialed(w http.ResponseWriter, r *http.Request, do func(context.Context, Credentials) (string, error)) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	c, err := h.creds(r)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	if strings.TrimSpace(c.Account) == "" || c.Password == "" {
		h.errs.answer(w, r, fmt.Errorf("%w: account and password are required", ErrBadInput))
		return
	}
	proof, err := h.dpop.loginProof(h.client, w, r) // a DPoP header binds the session: checked first
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	id, err := do(r.Context(), c)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	opts, err := h.signOptions(r, id)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	if proof != nil {
		opts = append(opts[:len(opts):len(opts)], rjwt.BindProof(*proof))
	}
	pair, err := h.client.SignPair(r.Context(), id, opts...)
	if err != nil {
		// The id is the one Accounts returned and the options are the
		// application's: an ErrInvalidID or ErrInvalidTTL here is no fault of
		// the client's.
		h.errs.answer(w, r, dpopErr(ownFault(err), proof))
		return
	}
	if h.cookies != nil && h.cookies.Browser(r) && h.cookies.check(r) == nil {
		h.cookies.set(w, r, pair)
		writeJSON(w, http.StatusOK, cookieAnswer(pair))
		return
	}
	writeJSON(w, http.StatusOK, pairAnswer(pair, proof))
}

// signOptions are the options of a login's SignPair: WithSignOptions',
// the device's details, then the user's own (AccountSignOptions).
func (h *Handlers) signOptions(r *http.Request, id string) ([]rjwt.SignOption, error) {
	opts := h.signOpts[:len(h.signOpts):len(h.signOpts)]
	if h.meta != nil {
		if m := h.meta(r); len(m) > 0 {
			opts = append(opts, rjwt.WithMeta(m))
		}
	}
	if a, ok := h.accounts.(AccountSignOptions); ok {
		more, err := a.SignOptions(r.Context(), id, r)
		if err != nil {
			return nil, err
		}
		opts = append(opts, more...)
	}
	return opts, nil
}

// RefreshToken rotates: POST {"refreshToken"} → 200 with a new rjwt.Pair; 401
// when refused (invalid, expired, revoked, or reused, which also revokes the
// session); 503 when Redis is unavailable. In cookie mode a body that names
// no refresh token ({} or empty) means the refresh cookie's, after the
// cross-origin check (403 ErrCrossOrigin), and the new
// pair goes back as cookies ({"expiresIn", "refreshExpiresIn"} in the
// body); no refresh cookie either is 401 (ErrNoToken), and a refused
// refresh cookie is cleared.
func (h *Handlers) RefreshToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken string `json:"refreshToken"`
	}
	err := decodeJSON(http.MaxBytesReader(w, r.Body, h.maxBody), &body)
	if h.cookies != nil && errors.Is(err, errEmptyBody) {
		err = nil // an empty body: the cookie's
	}
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	fromCookie := false
	if body.RefreshToken == "" && h.cookies != nil {
		if err := h.cookies.check(r); err != nil {
			h.errs.answer(w, r, err) // 403: a cookie would authenticate it
			return
		}
		body.RefreshToken, fromCookie = h.cookies.refreshToken(r), true
		if body.RefreshToken == "" {
			h.errs.answer(w, r, ErrNoToken) // 401: log in again
			return
		}
	}
	if body.RefreshToken == "" {
		h.errs.answer(w, r, fmt.Errorf("%w: refreshToken is required", ErrBadInput))
		return
	}
	proof, err := h.dpop.proof(w, r)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	var ropts []rjwt.RefreshOption
	if proof != nil {
		ropts = append(ropts, rjwt.WithRefreshProof(*proof))
	}
	pair, err := h.client.Refresh(r.Context(), body.RefreshToken, ropts...)
	if err != nil {
		err = dpopErr(err, proof)
		if status, _ := Classify(err); fromCookie && status == http.StatusUnauthorized {
			h.cookies.clear(w, r)
		}
		h.errs.answer(w, r, err)
		return
	}
	if fromCookie {
		h.cookies.set(w, r, pair)
		writeJSON(w, http.StatusOK, cookieAnswer(pair))
		return
	}
	writeJSON(w, http.StatusOK, pairAnswer(pair, proof))
}

// Logout revokes the request's session: 204, and its tokens stop working.
// In cookie mode it also clears both cookies. Put it behind Middleware,
// whose cross-origin check (WithCookies) covers a request its cookie
// authenticates.
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		h.errs.answer(w, r, ErrNoToken)
		return
	}
	if err := h.client.Revoke(r.Context(), claims.Session); err != nil && !errors.Is(err, rjwt.ErrSessionNotFound) {
		h.errs.answer(w, r, err)
		return
	}
	if h.cookies != nil {
		h.cookies.clear(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
}

// LogoutAll revokes every session of the request's user (logout everywhere):
// 200 with {"revoked": n}. In cookie mode it also clears both cookies. Put
// it behind Middleware. One Redis round trip.
func (h *Handlers) LogoutAll(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		h.errs.answer(w, r, ErrNoToken)
		return
	}
	n, err := h.client.RevokeAll(r.Context(), claims.ID)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	if h.cookies != nil {
		h.cookies.clear(w, r)
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// sessionEntry is one entry of the Sessions answer.
type sessionEntry struct {
	Session   string            `json:"session"`   // "id:nanoid", as rjwt.Claims.Session
	ExpiresAt time.Time         `json:"expiresAt"` // when Redis will expire it
	CreatedAt *time.Time        `json:"createdAt"` // null for sessions from before it was recorded
	LastSeen  *time.Time        `json:"lastSeen"`  // last use (to the minute), or createdAt
	Meta      map[string]string `json:"meta"`      // device details recorded at login; null when none
	Current   bool              `json:"current"`   // the session of the request's token
}

// Sessions lists the live sessions of the request's user, the device list:
// 200 with {"sessions": [{"session", "expiresAt", "createdAt", "lastSeen",
// "meta", "current"}, ...]}, soonest to expire first. Put it behind
// Middleware. One Redis round trip.
func (h *Handlers) Sessions(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		h.errs.answer(w, r, ErrNoToken)
		return
	}
	list, err := h.client.Sessions(r.Context(), claims.ID)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	out := make([]sessionEntry, len(list))
	for i, s := range list {
		out[i] = sessionEntry{Session: s.Session, ExpiresAt: s.ExpiresAt, Meta: s.Meta, Current: s.Session == claims.Session}
		if !s.CreatedAt.IsZero() {
			out[i].CreatedAt = &s.CreatedAt
		}
		if !s.LastSeen.IsZero() {
			out[i].LastSeen = &s.LastSeen
		}
	}
	writeJSON(w, http.StatusOK, map[string][]sessionEntry{"sessions": out})
}

// RevokeSession logs out one of the request's user's own sessions, as a
// device list's "log out that device": POST {"session": "id:nanoid"} → 204.
// A session of another user, or one that has ended, is 404 (ErrNoSession;
// the same answer for both, so nothing is learnt of other users' sessions);
// a malformed name 400. The request's own session may be named: that is a
// logout. Put it behind Middleware. One Redis round trip (rjwt's RevokeOwn).
func (h *Handlers) RevokeSession(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		h.errs.answer(w, r, ErrNoToken)
		return
	}
	var body struct {
		Session string `json:"session"`
	}
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, h.maxBody), &body); err != nil {
		h.errs.answer(w, r, err)
		return
	}
	err := h.client.RevokeOwn(r.Context(), claims.ID, body.Session)
	if errors.Is(err, rjwt.ErrSessionNotFound) {
		err = fmt.Errorf("%w: %q", ErrNoSession, body.Session)
	}
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
