package rjwthttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/rjwt/rjwt"
)

// Errors an Accounts implementation returns to choose the answer.
var (
	// ErrInvalidCredentials: unknown account or wrong password. 401.
	ErrInvalidCredentials = errors.New("rjwthttp: invalid credentials")
	// ErrAccountExists: Register found the account taken. 409.
	ErrAccountExists = errors.New("rjwthttp: account exists")
	// ErrBadInput: the account or password is not acceptable (empty, too
	// short, ...). 400, with the error's text.
	ErrBadInput = errors.New("rjwthttp: bad input")
	// ErrUnavailable: the account store cannot answer now (its database is
	// down, say). 503 with Retry-After, as for rjwt's own Redis. Any other
	// error from Accounts is a 500.
	ErrUnavailable = errors.New("rjwthttp: account store unavailable")
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
// (Authorize), Register, RefreshToken, Logout and LogoutAll. Make them with
// NewHandlers.
type Handlers struct {
	client   *rjwt.Client
	accounts Accounts
	signOpts []rjwt.SignOption
	maxBody  int64
}

// HandlerOption configures Handlers.
type HandlerOption func(*Handlers)

// WithSignOptions sets the options of every SignPair the handlers make, e.g.
// rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 days").
func WithSignOptions(opts ...rjwt.SignOption) HandlerOption {
	return func(h *Handlers) { h.signOpts = opts }
}

// WithMaxBody sets the largest JSON body the handlers read, in bytes. The
// default is 16 KiB.
func WithMaxBody(n int64) HandlerOption { return func(h *Handlers) { h.maxBody = n } }

// NewHandlers makes the handlers. Both arguments are required.
func NewHandlers(c *rjwt.Client, accounts Accounts, opts ...HandlerOption) (*Handlers, error) {
	if c == nil || accounts == nil {
		return nil, errors.New("rjwthttp: NewHandlers needs a client and an Accounts; there is no default account store")
	}
	h := &Handlers{client: c, accounts: accounts, maxBody: 16 << 10}
	for _, o := range opts {
		if o != nil {
			o(h)
		}
	}
	return h, nil
}

// Authorize logs in: POST {"account", "password"} → 200 with a rjwt.Pair;
// 401 on wrong credentials; 400 on a malformed body.
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
	if !h.decode(w, r, &c) {
		return
	}
	if strings.TrimSpace(c.Account) == "" || c.Password == "" {
		badRequest(w, "account and password are required")
		return
	}
	id, err := do(r.Context(), c)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "invalid_credentials", Description: "wrong account or password"})
		return
	case errors.Is(err, ErrAccountExists):
		writeJSON(w, http.StatusConflict, errorBody{Error: "account_exists", Description: "the account is taken"})
		return
	case errors.Is(err, ErrBadInput):
		badRequest(w, err.Error())
		return
	case errors.Is(err, ErrUnavailable):
		WriteError(w, err) // not an rjwt sentinel: 503
		return
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "server_error"})
		return
	}
	pair, err := h.client.SignPair(r.Context(), id, h.signOpts...)
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pair)
}

// RefreshToken rotates: POST {"refreshToken"} → 200 with a new rjwt.Pair; 401
// when refused (invalid, expired, revoked, or reused, which also revokes the
// session); 503 when Redis is unreachable.
func (h *Handlers) RefreshToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken string `json:"refreshToken"`
	}
	if !h.decode(w, r, &body) {
		return
	}
	if body.RefreshToken == "" {
		badRequest(w, "refreshToken is required")
		return
	}
	pair, err := h.client.Refresh(r.Context(), body.RefreshToken)
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, pair)
}

// Logout revokes the request's session: 204, and its tokens stop working.
// Put it behind Middleware.
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		Unauthorized(w, "no token")
		return
	}
	if err := h.client.Revoke(r.Context(), claims.Session); err != nil && !errors.Is(err, rjwt.ErrSessionNotFound) {
		WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// LogoutAll revokes every session of the request's user: 200 with
// {"revoked": n}. Put it behind Middleware.
func (h *Handlers) LogoutAll(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		Unauthorized(w, "no token")
		return
	}
	n, err := h.client.RevokeAll(r.Context(), claims.ID)
	if err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// decode reads a size-limited JSON body into v, answering 400 or 413 itself
// when it cannot.
func (h *Handlers) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("extra data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: "invalid_request", Description: fmt.Sprintf("body over %d bytes", tooBig.Limit)})
	case errors.Is(err, io.EOF):
		badRequest(w, "empty body: expected a JSON object")
	default:
		badRequest(w, "malformed JSON: "+err.Error())
	}
	return false
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid_request", Description: msg})
}
