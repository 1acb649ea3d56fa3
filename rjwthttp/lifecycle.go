package rjwthttp

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rjwt/rjwt"
)

// The session lifecycle over HTTP: Reissue, "log out other devices", the
// step-up challenge (RFC 9470), and the answers for a login that lost a
// race or met the session cap.

// RequireAuthWithin makes Middleware refuse a token whose user
// authenticated more than d ago (its auth_time, rjwt.RequireAuthWithin),
// for routes of sensitive actions: 401 with
// `WWW-Authenticate: Bearer error="insufficient_user_authentication",
// error_description="...", max_age=<d in seconds>` (RFC 9470 §3) and the
// JSON body {"error": "insufficient_user_authentication", ...}. The client
// then has the user log in again (or step up) and retries. Mount a second
// Middleware with it on those routes only.
func RequireAuthWithin(d time.Duration) Option {
	return middlewareOption(func(c *config) { c.authWithin = d })
}

// verifyOptions are the Verify options cfg asks for.
func (cfg *config) verifyOptions() []rjwt.VerifyOption {
	var v []rjwt.VerifyOption
	if cfg.session {
		v = append(v, rjwt.WithSession())
	}
	if cfg.authWithin > 0 {
		v = append(v, rjwt.RequireAuthWithin(cfg.authWithin))
	}
	return v
}

// WithReissueOptions sets the options of Handlers.Reissue's rjwt.Reissue
// for each request, e.g. after a second factor:
// rjwt.WithAMR("pwd", "otp"), rjwt.WithAuthTime(time.Now()), or new
// private data for the elevated session. An error from f is the answer
// (ErrBadInput 400, anything else 500). Without it Reissue keeps the old
// session's.
func WithReissueOptions(f func(r *http.Request, claims *rjwt.Claims) ([]rjwt.SignOption, error)) HandlerOption {
	return handlersOption(func(h *Handlers) { h.reissueOpts = f })
}

// Reissue gives the request's session a new id (rjwt.Reissue): the new
// session keeps the old one's private data, device details, auth_time, amr
// and remaining life, and the old one's tokens stop working. 200 with the
// new rjwt.Pair (in cookie mode, for a browser, as cookies with
// {"expiresIn", "refreshExpiresIn"}), as login answers. Mount it behind
// Middleware AND the application's own authorization (the privilege change
// it is for: a second factor checked, an admin mode granted), with
// WithReissueOptions for what changes. One Redis round trip.
func (h *Handlers) Reissue(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		h.errs.answer(w, r, ErrNoToken)
		return
	}
	var opts []rjwt.SignOption
	if h.reissueOpts != nil {
		var err error
		if opts, err = h.reissueOpts(r, claims); err != nil {
			h.errs.answer(w, r, err)
			return
		}
	}
	pair, err := h.client.Reissue(r.Context(), claims.Session, opts...)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	if h.cookies != nil && h.cookies.Browser(r) && h.cookies.check(r) == nil {
		h.cookies.set(w, r, pair)
		writeJSON(w, http.StatusOK, cookieAnswer(pair))
		return
	}
	writeJSON(w, http.StatusOK, pair)
}

// LogoutOthers ends every other session of the request's user and keeps
// this one ("log out all other devices", rjwt.RevokeOthers): 200 with
// {"revoked": n}, atomically (a login racing it is either ended by it or
// made after it). Put it behind Middleware. One Redis round trip.
func (h *Handlers) LogoutOthers(w http.ResponseWriter, r *http.Request) {
	claims, ok := FromContext(r.Context())
	if !ok {
		h.errs.answer(w, r, ErrNoToken)
		return
	}
	n, err := h.client.RevokeOthers(r.Context(), claims.Session)
	if err != nil {
		h.errs.answer(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// classifyLifecycle is Classify for the lifecycle's sentinels.
func classifyLifecycle(err error) (status int, code string, ok bool) {
	switch {
	case errors.Is(err, rjwt.ErrStepUpRequired):
		return http.StatusUnauthorized, "insufficient_user_authentication", true
	case errors.Is(err, rjwt.ErrLoginSuperseded):
		return http.StatusConflict, "login_superseded", true
	case errors.Is(err, rjwt.ErrTooManySessions):
		return http.StatusConflict, "too_many_sessions", true
	}
	return 0, "", false
}

// writeLifecycle is WriteError for the codes classifyLifecycle gives.
func writeLifecycle(w http.ResponseWriter, status int, code string, err error) {
	switch code {
	case "insufficient_user_authentication":
		desc := "a more recent authentication is required"
		challenge := `Bearer error="insufficient_user_authentication", error_description="` + desc + `"`
		var su *rjwt.StepUpError
		if errors.As(err, &su) && su.MaxAge > 0 {
			challenge += ", max_age=" + strconv.FormatInt(int64((su.MaxAge+time.Second-1)/time.Second), 10)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, status, errorBody{Error: code, Description: desc})
	case "login_superseded":
		writeJSON(w, status, errorBody{Error: code, Description: "a newer login of this account already succeeded; this one was not needed"})
	default:
		writeJSON(w, status, errorBody{Error: code, Description: "the account already has the most sessions allowed; log out another device first"})
	}
}

// endedDescription is the 401 description of a token whose session ended,
// with the reason when rjwt knows it.
func endedDescription(err error) string {
	var e *rjwt.SessionEndedError
	if errors.As(err, &e) {
		if d := e.Reason.Description(); d != "" {
			return "session " + strings.TrimPrefix(d, "session ")
		}
	}
	return "session revoked or expired"
}
