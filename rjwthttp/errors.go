package rjwthttp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/rjwt/rjwt"
)

// Sentinel errors of rjwthttp. Compare with errors.Is.
var (
	// ErrNoToken: the request carried no token in any of the middleware's
	// sources (or reached Logout, LogoutAll or Sessions without Middleware
	// in front, or, in cookie mode, RefreshToken with no refresh token in
	// its body and no refresh cookie). 401 with a bare "WWW-Authenticate:
	// Bearer" challenge: RFC 6750 §3.1 puts no error code in it when the
	// request had no credentials.
	ErrNoToken = errors.New("rjwthttp: no token")

	// ErrInvalidCredentials: unknown account or wrong password. 401.
	ErrInvalidCredentials = errors.New("rjwthttp: invalid credentials")
	// ErrAccountExists: Register found the account taken. 409.
	ErrAccountExists = errors.New("rjwthttp: account exists")
	// ErrBadInput: the account or password is not acceptable (empty, too
	// short, ...), or the request's body is not the JSON expected. 400, with
	// the error's text.
	ErrBadInput = errors.New("rjwthttp: bad input")
	// ErrUnavailable is rjwt.ErrUnavailable, the one "try later" sentinel:
	// an Accounts method wraps it when the account store cannot answer now
	// (its database is down, say). 503 with Retry-After. Any other error from
	// Accounts is a 500.
	ErrUnavailable = rjwt.ErrUnavailable

	// ErrCrossOrigin: in cookie mode (WithCookies), an unsafe request
	// without an Authorization header that a browser sent from another
	// origin (http.CrossOriginProtection refused it). 403; nothing was done.
	ErrCrossOrigin = errors.New("rjwthttp: cross-origin request refused")

	// ErrInvalidOption: an option given to NewHandlers (or Middleware, which
	// panics with it) that cannot work, e.g. WithCookies without a
	// RefreshPath. A TTL rjwt refuses in WithSignOptions is rjwt's
	// ErrInvalidTTL instead.
	ErrInvalidOption = errors.New("rjwthttp: invalid option")

	// ErrNoSession: RevokeSession was asked for a session that is not one of
	// the user's live sessions (another user's, or ended). 404.
	ErrNoSession = errors.New("rjwthttp: no such session of yours")

	// ErrNotObject: the session's data is JSON but not an object, so it has no
	// fields to get or set.
	ErrNotObject = errors.New("rjwthttp: session data is not a JSON object")
	// ErrSessionSealed: Set or Delete after the response's headers were
	// written. The session was saved then; a later change could not be, so it
	// is refused instead of lost in silence. Change the session before
	// writing the response.
	ErrSessionSealed = errors.New("rjwthttp: session already saved (response headers written)")
)

// ErrorHandler answers a request that failed with err: it writes the whole
// response (status, headers, body). Middleware and Handlers call one for every
// error they answer; the default is WriteError. Use Classify to keep the
// default's statuses, and WriteError for the errors a handler does not want to
// answer itself.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// Classify returns the HTTP status err deserves and the error code of the
// JSON body WriteError writes for it:
//
//   - 503 "unavailable" (try later): rjwt.ErrUnavailable, which this
//     package's ErrUnavailable is (Redis unreachable, timing out, out of
//     memory, loading; the account store down), rjwt.ErrClosed (the client is shutting down),
//     and a network error, deadline or cancellation in err's chain.
//   - 401 "credentials_required": ErrNoToken.
//   - 401 "insufficient_user_authentication": rjwt.ErrStepUpRequired, with
//     the RFC 9470 challenge (RequireAuthWithin).
//   - 409 "login_superseded": rjwt.ErrLoginSuperseded (a newer login of
//     the user won; the user is logged in by it).
//   - 409 "too_many_sessions": rjwt.ErrTooManySessions (LimitRefuse).
//   - 401 "use_dpop_nonce": rjwt.ErrUseDPoPNonce (with WithDPoPNonce), and
//     401 "invalid_dpop_proof": rjwt.ErrInvalidProof (a missing, bad or
//     replayed DPoP proof, or a bound token sent as Bearer); WriteError
//     answers both with WWW-Authenticate: DPoP algs="..." (dpop.go), as it
//     does "invalid_token" for a request that used the DPoP scheme.
//   - 401 "invalid_token": rjwt.ErrInvalidToken, ErrTokenExpired,
//     ErrSessionNotFound and ErrRefreshReused: log in (or refresh) again.
//   - 401 "invalid_credentials": ErrInvalidCredentials.
//   - 409 "account_exists": ErrAccountExists.
//   - 403 "cross_origin": ErrCrossOrigin.
//   - 404 "not_found": ErrNoSession.
//   - 413 "invalid_request": a body over the handlers' limit (*http.MaxBytesError).
//   - 400 "invalid_request": ErrBadInput, and rjwt.ErrInvalidID, ErrInvalidTTL
//     and ErrTooLarge when they come from the request (an id or TTL a client
//     sent, session data a request made too large). The same sentinels from
//     the application's own configuration (the id Accounts returned, the TTLs
//     of WithSignOptions or WithSliding, a WithDataToken too large) are the
//     server's fault: Middleware and Handlers mark those, and they are 500.
//   - 500 "server_error": anything else, e.g. a WithDataToken value that
//     cannot be marshalled, or ErrSessionSealed. Middleware and Handlers log
//     these (WithLogger, WithHandlersLogger).
func Classify(err error) (status int, code string) {
	var (
		netErr   net.Error
		tooBig   *http.MaxBytesError
		ownFault serverFault
	)
	switch {
	case errors.Is(err, rjwt.ErrUnavailable), errors.Is(err, rjwt.ErrClosed),
		// A timeout or a network failure is "try later" whoever reports it.
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &netErr):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, ErrNoToken):
		return http.StatusUnauthorized, "credentials_required"
	case errors.Is(err, rjwt.ErrStepUpRequired), errors.Is(err, rjwt.ErrLoginSuperseded), errors.Is(err, rjwt.ErrTooManySessions):
		status, code, _ := classifyLifecycle(err) // lifecycle.go
		return status, code
	case errors.Is(err, rjwt.ErrUseDPoPNonce): // DPoP (dpop.go)
		return http.StatusUnauthorized, "use_dpop_nonce"
	case errors.Is(err, rjwt.ErrInvalidProof):
		return http.StatusUnauthorized, "invalid_dpop_proof"
	case errors.Is(err, rjwt.ErrInvalidToken), errors.Is(err, rjwt.ErrTokenExpired),
		errors.Is(err, rjwt.ErrSessionNotFound), errors.Is(err, rjwt.ErrRefreshReused):
		return http.StatusUnauthorized, "invalid_token"
	case errors.Is(err, ErrInvalidCredentials):
		return http.StatusUnauthorized, "invalid_credentials"
	case errors.Is(err, ErrAccountExists):
		return http.StatusConflict, "account_exists"
	case errors.Is(err, ErrNoSession):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrCrossOrigin):
		return http.StatusForbidden, "cross_origin"
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, "invalid_request"
	case errors.As(err, &ownFault):
		return http.StatusInternalServerError, "server_error"
	case errors.Is(err, ErrBadInput), errors.Is(err, rjwt.ErrInvalidID),
		errors.Is(err, rjwt.ErrInvalidTTL), errors.Is(err, rjwt.ErrTooLarge):
		return http.StatusBadRequest, "invalid_request"
	}
	return http.StatusInternalServerError, "server_error"
}

// WriteError answers err with the status Classify gives it and a JSON body
// {"error": code, "error_description": "..."}; the default ErrorHandler. A
// 401 carries an RFC 6750 challenge: "WWW-Authenticate: Bearer" for ErrNoToken,
// `Bearer error="invalid_token", error_description="..."` for a refused token.
// A 503 carries Retry-After: 1. A 500 says only "server_error": its cause is
// for the log, not the client. WriteError itself does not log.
func WriteError(w http.ResponseWriter, err error) {
	status, code := Classify(err)
	switch {
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, status, errorBody{Error: code, Description: "temporarily unavailable; try again later"})
	case code == "credentials_required":
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSON(w, status, errorBody{Error: code, Description: "no token"})
	case code == "invalid_dpop_proof", code == "use_dpop_nonce":
		dpopUnauthorized(w, code, describe(err))
	case code == "invalid_token" && isDPoP(err):
		dpopUnauthorized(w, code, tokenDescription(err))
	case code == "invalid_token":
		Unauthorized(w, tokenDescription(err))
	case code == "insufficient_user_authentication", code == "login_superseded", code == "too_many_sessions":
		writeLifecycle(w, status, code, err) // lifecycle.go
	case code == "invalid_credentials":
		writeJSON(w, status, errorBody{Error: code, Description: "wrong account or password"})
	case code == "account_exists":
		writeJSON(w, status, errorBody{Error: code, Description: "the account is taken"})
	case code == "not_found":
		writeJSON(w, status, errorBody{Error: code, Description: "no such session of yours"})
	case code == "cross_origin":
		writeJSON(w, status, errorBody{Error: code, Description: "cross-origin request refused"})
	case status == http.StatusRequestEntityTooLarge:
		var tooBig *http.MaxBytesError
		errors.As(err, &tooBig)
		writeJSON(w, status, errorBody{Error: code, Description: "body over " + strconv.FormatInt(tooBig.Limit, 10) + " bytes"})
	case status == http.StatusBadRequest:
		writeJSON(w, status, errorBody{Error: code, Description: describe(err)})
	default:
		writeJSON(w, status, errorBody{Error: code})
	}
}

// describe is a 400's error_description: the error's text without the Go
// package prefixes its layers add ("rjwthttp: bad input: ", "rjwt: "),
// which name code, not the problem.
func describe(err error) string {
	s := err.Error()
	for _, p := range []string{ErrBadInput.Error() + ": ", "rjwthttp: ", "rjwt: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

func tokenDescription(err error) string {
	switch {
	case errors.Is(err, rjwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, rjwt.ErrSessionNotFound):
		return endedDescription(err) // why, when known: lifecycle.go
	case errors.Is(err, rjwt.ErrRefreshReused):
		return "refresh token reused; session revoked"
	}
	return "invalid token"
}

// Unauthorized answers 401 with the challenge for a refused token,
// `WWW-Authenticate: Bearer error="invalid_token", error_description="..."`
// (RFC 6750 §3), and the JSON body {"error": "invalid_token", ...}.
func Unauthorized(w http.ResponseWriter, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+strings.ReplaceAll(description, `"`, `'`)+`"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: "invalid_token", Description: description})
}

// serverFault marks an error whose sentinel would say "the client's fault"
// (ErrInvalidID, ErrInvalidTTL, ErrTooLarge) when it came from the
// application's own configuration instead: Classify makes it a 500.
type serverFault struct{ err error }

func (e serverFault) Error() string { return e.err.Error() }
func (e serverFault) Unwrap() error { return e.err }

// ownFault marks err as the server's fault if it carries one of the sentinels
// that otherwise mean a bad request. Other errors pass as they are.
func ownFault(err error) error {
	if errors.Is(err, rjwt.ErrInvalidID) || errors.Is(err, rjwt.ErrInvalidTTL) || errors.Is(err, rjwt.ErrTooLarge) {
		return serverFault{err}
	}
	return err
}

// errorConfig is how Middleware and Handlers answer errors.
type errorConfig struct {
	handler ErrorHandler
	logger  *slog.Logger
	client  *rjwt.Client // its Logger is the default logger
}

// answer logs err if it is a 500 (whoever answers it), then answers it.
func (e *errorConfig) answer(w http.ResponseWriter, r *http.Request, err error) {
	if status, _ := Classify(err); status == http.StatusInternalServerError {
		l := e.logger
		if l == nil && e.client != nil {
			l = e.client.Logger()
		}
		if l == nil {
			l = slog.Default()
		}
		l.LogAttrs(r.Context(), slog.LevelError, "rjwthttp: request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	if e.handler != nil {
		e.handler(w, r, err)
		return
	}
	WriteError(w, err)
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}
