package rjwthttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rjwt/rjwt"
)

// Credentials is the JSON body of /authorize and /register.
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
}

// HandlerOption configures Handlers.
type HandlerOption func(*Handlers)

// WithSignOptions sets the options of every SignPair the handlers make, e.g.
// rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 days"). A TTL or
// WithDataToken that rjwt refuses is the application's error: 500, logged.
func WithSignOptions(opts ...rjwt.SignOption) HandlerOption {
	return func(h *Handlers) { h.signOpts = opts }
}

// WithDeviceMeta sets what login (Authorize, Register) records about the
// device with the new session (rjwt.WithMeta), for the device list. The
// default is DeviceMeta: the user agent and the client IP as r.RemoteAddr
// gives it. Behind a proxy you trust, pass a function that reads the
// address the proxy reports (X-Forwarded-For's last hop it added, say);
// rjwthttp never trusts such headers on its own. A nil f records nothing.
func WithDeviceMeta(f func(*http.Request) map[string]string) HandlerOption {
	return func(h *Handlers) { h.meta = f }
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

// WithMaxBody sets the largest JSON body the handlers read, in bytes. The
// default is 16 KiB.
func WithMaxBody(n int64) HandlerOption { return func(h *Handlers) { h.maxBody = n } }

// WithHandlersErrorHandler sets how the handlers answer errors: a malformed
// body, refused credentials, a refused refresh token, Redis or the account
// store unavailable, and the rest. The default is WriteError; Classify gives
// a custom handler the default's status. A nil eh keeps the default.
func WithHandlersErrorHandler(eh ErrorHandler) HandlerOption {
	return func(h *Handlers) { h.errs.handler = eh }
}

// WithHandlersLogger sets where the handlers log the errors they cannot
// classify (the 500s of Classify: an Accounts error that is none of this
// package's sentinels, a sign option rjwt refuses, ...), at Error level with
// the error, the method and the path; they log them whichever ErrorHandler
// answers. The default, and a nil l, is the client's logger (rjwt.WithLogger)
// or, when it has none, slog.Default() at the time of logging.
func WithHandlersLogger(l *slog.Logger) HandlerOption {
	return func(h *Handlers) { h.errs.logger = l }
}

// NewHandlers makes the handlers. Both arguments are required.
func NewHandlers(c *rjwt.Client, accounts Accounts, opts ...HandlerOption) (*Handlers, error) {
	if c == nil || accounts == nil {
		return nil, errors.New("rjwthttp: NewHandlers needs a client and an Accounts; there is no default account store")
	}
	h := &Handlers{client: c, accounts: accounts, maxBody: 16 << 10, errs: errorConfig{client: c}, meta: DeviceMeta}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	return h, nil
}

// Authorize logs in: POST {"account", "password"} → 200 with a rjwt.Pair;
// 401 on wrong credentials; 400 on a malformed body. The session records
// the device (WithDeviceMeta).
func (h *Handlers) Authorize(w http.ResponseWriter, r *http.Request) {
	h.credentialed(w, r, h.accounts.Authenticate)
}

// Register creates an account and logs it in: POST {"account", "password"} →
// 200 with a rjwt.Pair; 409 if the account exists; 400 on bad input.
func (h *Handlers) Register(w http.ResponseWriter, r *http.Request) {
	h.credentialed(w, r, h.accounts.Register)
}

func (h *Handlers) credentialed(w http.ResponseWriter, r *http.Request, do func(context.Context, Credentials) (string, error)) {
	var c Credentials
	if err := h.decode(w, r, &c); err != nil {
		h.errs.answer(w, r, err)
		return
	}
	if strings.TrimSpace(c.Account) == "" || c.Password == "" {
		h.errs.answer(w, r, fmt.Errorf("%w: account and password are required", ErrBadInput))
		return
	}
	id, err := do(r.Context(), c)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	opts := h.signOpts
	if h.meta != nil {
		if m := h.meta(r); len(m) > 0 {
			opts = append(opts[:len(opts):len(opts)], rjwt.WithMeta(m))
		}
	}
	pair, err := h.client.SignPair(r.Context(), id, opts...)
	if err != nil {
		// The id is the one Accounts returned and the options are the
		// application's: an ErrInvalidID or ErrInvalidTTL here is no fault of
		// the client's.
		h.errs.answer(w, r, ownFault(err))
		return
	}
	writeJSON(w, http.StatusOK, pair)
}

// RefreshToken rotates: POST {"refreshToken"} → 200 with a new rjwt.Pair; 401
// when refused (invalid, expired, revoked, or reused, which also revokes the
// session); 503 when Redis is unavailable.
func (h *Handlers) RefreshToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken string `json:"refreshToken"`
	}
	if err := h.decode(w, r, &body); err != nil {
		h.errs.answer(w, r, err)
		return
	}
	if body.RefreshToken == "" {
		h.errs.answer(w, r, fmt.Errorf("%w: refreshToken is required", ErrBadInput))
		return
	}
	pair, err := h.client.Refresh(r.Context(), body.RefreshToken)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pair)
}

// Logout revokes the request's session: 204, and its tokens stop working.
// Put it behind Middleware.
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
	w.WriteHeader(http.StatusNoContent)
}

// LogoutAll revokes every session of the request's user (logout everywhere):
// 200 with {"revoked": n}. Put it behind Middleware. One Redis round trip.
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
	if err := h.decode(w, r, &body); err != nil {
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

// decode reads a size-limited JSON body into v. Its errors wrap ErrBadInput,
// and also *http.MaxBytesError (413) for a body over the limit.
func (h *Handlers) decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		return fmt.Errorf("%w: extra data after the JSON object", ErrBadInput)
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return fmt.Errorf("%w: %w", ErrBadInput, tooBig)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: empty body: expected a JSON object", ErrBadInput)
	}
	return fmt.Errorf("%w: malformed JSON: %v", ErrBadInput, err)
}
