package rjwthttp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// lifecycleApp serves login, reissue (behind the app's own check: here a
// header), logout of other devices and a route that needs recent auth.
func lifecycleApp(t *testing.T, c *rjwt.Client) *httptest.Server {
	t.Helper()
	h, err := rjwthttp.NewHandlers(c, &memAccounts{}, rjwthttp.WithReissueOptions(
		func(r *http.Request, _ *rjwt.Claims) ([]rjwt.SignOption, error) {
			return []rjwt.SignOption{rjwt.WithAMR("pwd", "otp")}, nil
		}))
	require.NoError(t, err)
	mw := rjwthttp.Middleware(c)
	recent := rjwthttp.Middleware(c, rjwthttp.RequireAuthWithin(time.Minute))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("POST /logoutOthers", mw(http.HandlerFunc(h.LogoutOthers)))
	mux.Handle("POST /mfa", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-OTP") != "123456" { // the application's own authorization
			rjwthttp.WriteError(w, fmt.Errorf("%w: wrong code", rjwthttp.ErrInvalidCredentials))
			return
		}
		h.Reissue(w, r)
	})))
	mux.Handle("POST /transfer", recent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	mux.Handle("GET /me", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"session": claims.Session, "amr": claims.AMR})
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestReissueAndLogoutOthersOverHTTP(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	srv := lifecycleApp(t, c)
	creds := map[string]string{"account": "zoe", "password": "secret"}
	require.Equal(t, 200, do(t, "POST", srv.URL+"/register", "", creds).status)
	phone := pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))
	laptop := pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))

	req, _ := http.NewRequest("POST", srv.URL+"/mfa", nil)
	req.Header.Set("Authorization", "Bearer "+laptop.Token)
	req.Header.Set("X-OTP", "123456")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	old := do(t, "GET", srv.URL+"/me", laptop.Token, nil)
	assert401(t, old)
	assert.Equal(t, "session replaced by a reissued session", old.body["error_description"])

	r := do(t, "POST", srv.URL+"/logoutOthers", phone.Token, nil)
	require.Equal(t, 200, r.status, r.raw)
	assert.Equal(t, float64(2), r.body["revoked"], "register's session and the reissued laptop one")
	assert.Equal(t, 200, do(t, "GET", srv.URL+"/me", phone.Token, nil).status)
}

func TestReissueBehindTheAppsAuthorization(t *testing.T) {
	c := newClient(t)
	srv := lifecycleApp(t, c)
	creds := map[string]string{"account": "yan", "password": "secret"}
	require.Equal(t, 200, do(t, "POST", srv.URL+"/register", "", creds).status)
	p := pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))
	r := do(t, "POST", srv.URL+"/mfa", p.Token, nil) // no code
	assert.Equal(t, 401, r.status)
	assert.Equal(t, 200, do(t, "GET", srv.URL+"/me", p.Token, nil).status, "nothing was reissued")

	req, _ := http.NewRequest("POST", srv.URL+"/mfa", nil)
	req.Header.Set("Authorization", "Bearer "+p.Token)
	req.Header.Set("X-OTP", "123456")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var np rjwt.Pair
	require.NoError(t, jsonDecode(resp, &np))
	require.NotEmpty(t, np.RefreshToken)
	me := do(t, "GET", srv.URL+"/me", np.Token, nil)
	require.Equal(t, 200, me.status, me.raw)
	assert.Equal(t, []any{"pwd", "otp"}, me.body["amr"])
	assert.Equal(t, 200, do(t, "POST", srv.URL+"/refreshToken", "", map[string]string{"refreshToken": np.RefreshToken}).status)
}

func TestStepUpChallenge(t *testing.T) {
	c := newClient(t)
	srv := lifecycleApp(t, c)
	fresh, err := c.Sign(t.Context(), "sam")
	require.NoError(t, err)
	assert.Equal(t, 204, do(t, "POST", srv.URL+"/transfer", fresh, nil).status)

	stale, err := c.Sign(t.Context(), "sam", rjwt.WithAuthTime(time.Now().Add(-time.Hour)))
	require.NoError(t, err)
	r := do(t, "POST", srv.URL+"/transfer", stale, nil)
	assert.Equal(t, 401, r.status)
	assert.Equal(t, `Bearer error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age=60`,
		r.header.Get("WWW-Authenticate"))
	assert.Equal(t, "insufficient_user_authentication", r.body["error"])
	assert.Equal(t, 200, do(t, "GET", srv.URL+"/me", stale, nil).status, "routes without the option take it")
}

func TestLifecycleStatuses(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", rjwt.ErrLoginSuperseded), 409, "login_superseded"},
		{fmt.Errorf("x: %w", rjwt.ErrTooManySessions), 409, "too_many_sessions"},
		{&rjwt.StepUpError{MaxAge: time.Minute}, 401, "insufficient_user_authentication"},
		{&rjwt.SessionEndedError{Session: "u:x", Reason: rjwt.EndNewerLogin}, 401, "invalid_token"},
	} {
		status, code := rjwthttp.Classify(tc.err)
		assert.Equal(t, tc.status, status, "%v", tc.err)
		assert.Equal(t, tc.code, code)
	}
	w := httptest.NewRecorder()
	rjwthttp.WriteError(w, &rjwt.SessionEndedError{Session: "u:x", Reason: rjwt.EndNewerLogin})
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error_description="session ended by a newer login"`)
	w = httptest.NewRecorder()
	rjwthttp.WriteError(w, &rjwt.SessionEndedError{Session: "u:x", Reason: rjwt.EndSessionCap})
	assert.Contains(t, w.Body.String(), "session ended by the session limit")
	assert.True(t, errors.Is(&rjwt.SessionEndedError{}, rjwt.ErrSessionNotFound))
}

// TestDoubleClickedLoginIs409 : single-mode logins racing; the losers get
// 409 login_superseded, never 401, and exactly one session remains.
func TestDoubleClickedLoginIs409(t *testing.T) {
	c := newClient(t)
	srv := lifecycleApp(t, c)
	creds := map[string]string{"account": "dbl", "password": "secret"}
	require.Equal(t, 200, do(t, "POST", srv.URL+"/register", "", creds).status)
	const n = 20
	statuses := make(chan int, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			statuses <- do(t, "POST", srv.URL+"/authorize", "", creds).status
		}()
	}
	close(start)
	for range n {
		s := <-statuses
		assert.Contains(t, []int{200, 409}, s)
	}
	list, err := c.Sessions(t.Context(), "user-dbl")
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
