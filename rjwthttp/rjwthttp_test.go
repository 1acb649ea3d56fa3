package rjwthttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/rjwthttp"
)

// app is the flow of koa-jwt-redis-session's seed over a real Redis.
func app(t *testing.T, c *rjwt.Client, mwOpts ...rjwthttp.Option) *httptest.Server {
	t.Helper()
	h, err := rjwthttp.NewHandlers(c, &memAccounts{}, rjwthttp.WithSignOptions(rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("1 day")))
	require.NoError(t, err)
	mw := rjwthttp.Middleware(c, append([]rjwthttp.Option{rjwthttp.WithSessionData()}, mwOpts...)...)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("POST /logout", mw(http.HandlerFunc(h.Logout)))
	mux.Handle("POST /logoutAll", mw(http.HandlerFunc(h.LogoutAll)))
	mux.Handle("GET /sessions", mw(http.HandlerFunc(h.Sessions)))
	mux.Handle("GET /me", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		s, _ := rjwthttp.SessionFromContext(r.Context())
		var views int
		_, err := s.Get("views", &views)
		assert.NoError(t, err)
		assert.NoError(t, s.Set("views", views+1))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": claims.ID, "session": claims.Session, "views": views + 1})
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, method, url, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func pairOf(t *testing.T, r reply) rjwt.Pair {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, r.raw)
	var p rjwt.Pair
	require.NoError(t, json.Unmarshal([]byte(r.raw), &p))
	require.NotEmpty(t, p.Token)
	require.NotEmpty(t, p.RefreshToken)
	return p
}

func assert401(t *testing.T, r reply) {
	t.Helper()
	assert.Equal(t, http.StatusUnauthorized, r.status, r.raw)
	assert.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`), r.header.Get("WWW-Authenticate"))
	assert.Equal(t, "invalid_token", r.body["error"])
	assert.Contains(t, r.header.Get("Content-Type"), "application/json")
}

func TestTheWholeFlowEndToEnd(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true), rjwt.WithRefreshGrace(0)) // strict rotation: a reused token revokes at once
	srv := app(t, c)
	creds := map[string]string{"account": "alice", "password": "correct horse"}

	p := pairOf(t, do(t, "POST", srv.URL+"/register", "", creds))
	assert.Equal(t, http.StatusConflict, do(t, "POST", srv.URL+"/register", "", creds).status)
	assert.Equal(t, http.StatusUnauthorized, do(t, "POST", srv.URL+"/authorize", "", map[string]string{"account": "alice", "password": "wrong"}).status)
	assert.Equal(t, http.StatusBadRequest, do(t, "POST", srv.URL+"/register", "", map[string]string{"account": "bob", "password": "x"}).status)
	p = pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))

	// A protected request, twice: the per-session counter grows.
	me := do(t, "GET", srv.URL+"/me", p.Token, nil)
	require.Equal(t, http.StatusOK, me.status, me.raw)
	assert.Equal(t, "user-alice", me.body["id"])
	assert.Equal(t, float64(1), me.body["views"])
	assert.Equal(t, float64(2), do(t, "GET", srv.URL+"/me", p.Token, nil).body["views"])

	// Refresh: a new pair of the same session, with the same data.
	p2 := pairOf(t, do(t, "POST", srv.URL+"/refreshToken", "", map[string]string{"refreshToken": p.RefreshToken}))
	me = do(t, "GET", srv.URL+"/me", p2.Token, nil)
	assert.Equal(t, float64(3), me.body["views"])

	// The old refresh token again: theft. The session is revoked.
	assert401(t, do(t, "POST", srv.URL+"/refreshToken", "", map[string]string{"refreshToken": p.RefreshToken}))
	assert401(t, do(t, "GET", srv.URL+"/me", p2.Token, nil))

	// Logout ends one session.
	p3 := pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))
	r := do(t, "POST", srv.URL+"/logout", p3.Token, nil)
	assert.Equal(t, http.StatusNoContent, r.status)
	assert401(t, do(t, "GET", srv.URL+"/me", p3.Token, nil))

	// Logout everywhere ends them all.
	a := pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))
	b := pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))
	list := do(t, "GET", srv.URL+"/sessions", b.Token, nil)
	require.Equal(t, http.StatusOK, list.status, list.raw)
	sessions := list.body["sessions"].([]any)
	require.Len(t, sessions, 3, "a, b, and the session /register opened: %s", list.raw)
	current := 0
	for _, s := range sessions {
		s := s.(map[string]any)
		assert.True(t, strings.HasPrefix(s["session"].(string), "user-alice:"), s)
		exp, err := time.Parse(time.RFC3339Nano, s["expiresAt"].(string))
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now().Add(24*time.Hour), exp, time.Minute, "the refresh TTL")
		if s["current"] == true {
			current++
		}
	}
	assert.Equal(t, 1, current, list.raw)
	r = do(t, "POST", srv.URL+"/logoutAll", a.Token, nil)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.Equal(t, float64(3), r.body["revoked"], "a, b, and the session /register opened")
	assert401(t, do(t, "GET", srv.URL+"/me", b.Token, nil))
	assert401(t, do(t, "POST", srv.URL+"/refreshToken", "", map[string]string{"refreshToken": b.RefreshToken}))
	assert401(t, do(t, "GET", srv.URL+"/sessions", b.Token, nil))
	c2 := pairOf(t, do(t, "POST", srv.URL+"/authorize", "", creds))
	list = do(t, "GET", srv.URL+"/sessions", c2.Token, nil)
	require.Equal(t, http.StatusOK, list.status, list.raw)
	assert.Len(t, list.body["sessions"], 1, "only the session opened after logout everywhere")
}

func TestUnauthorizedAnswers(t *testing.T) {
	c := newClient(t)
	srv := app(t, c)
	p := pairOf(t, do(t, "POST", srv.URL+"/register", "", map[string]string{"account": "carol", "password": "secret1"}))
	// RFC 6750 §3.1: no error code in the challenge when there were no credentials.
	for _, path := range []string{"/me", "/sessions"} {
		r := do(t, "GET", srv.URL+path, "", nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, r.raw)
		assert.Equal(t, "Bearer", r.header.Get("WWW-Authenticate"))
		assert.Equal(t, "credentials_required", r.body["error"])
		assert.Contains(t, r.header.Get("Content-Type"), "application/json")
	}
	for name, token := range map[string]string{
		"garbage":           "garbage",
		"tampered":          p.Token[:len(p.Token)-3] + "AAA",
		"refresh as access": p.RefreshToken,
	} {
		t.Run(name, func(t *testing.T) {
			r := do(t, "GET", srv.URL+"/me", token, nil)
			assert401(t, r)
			assert.NotEmpty(t, r.body["error_description"])
		})
	}
	r := do(t, "GET", srv.URL+"/me", p.Token, nil)
	require.Equal(t, http.StatusOK, r.status)
	_, err := c.RevokeAll(context.Background(), "user-carol")
	require.NoError(t, err)
	r = do(t, "GET", srv.URL+"/me", p.Token, nil)
	assert401(t, r)
	assert.Equal(t, "session ended by a logout everywhere", r.body["error_description"], "why, while Redis knows it")
}

func TestExpiredTokenIs401(t *testing.T) {
	c := newClient(t, rjwt.WithLeeway(0)) // the test waits out exp, not the leeway
	tok, err := c.Sign(context.Background(), "dan", rjwt.WithTTL("1 second"))
	require.NoError(t, err)
	srv := httptest.NewServer(rjwthttp.Middleware(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	require.Equal(t, http.StatusOK, do(t, "GET", srv.URL, tok, nil).status)
	time.Sleep(2100 * time.Millisecond)
	r := do(t, "GET", srv.URL, tok, nil)
	assert401(t, r)
	assert.Equal(t, "token expired", r.body["error_description"])
}

func TestRedisDownIs503NotAPassNorA401(t *testing.T) {
	live := newClient(t)
	tok, err := live.Sign(context.Background(), "erin")
	require.NoError(t, err)
	port, err := redistest.FreePort()
	require.NoError(t, err)
	down, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(fmt.Sprintf("127.0.0.1:%d", port)), rjwt.WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	defer down.Close()
	reached := false
	srv := httptest.NewServer(rjwthttp.Middleware(down)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true })))
	defer srv.Close()
	r := do(t, "GET", srv.URL, tok, nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, r.raw)
	assert.Empty(t, r.header.Get("WWW-Authenticate"))
	assert.Equal(t, "unavailable", r.body["error"])
	assert.False(t, reached)
}

func TestTokenSourcesInTheCallersOrder(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	a, err := c.Sign(ctx, "from-a")
	require.NoError(t, err)
	b, err := c.Sign(ctx, "from-b")
	require.NoError(t, err)
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := rjwthttp.FromContext(r.Context())
		if !ok {
			fmt.Fprint(w, "anonymous")
			return
		}
		fmt.Fprint(w, claims.ID)
	})
	mw := rjwthttp.Middleware(c, rjwthttp.WithTokenSources(
		rjwthttp.HeaderToken("x-access-token"), rjwthttp.CookieToken("token"), rjwthttp.QueryToken("access_token"), rjwthttp.BearerToken))
	srv := httptest.NewServer(mw(whoami))
	defer srv.Close()

	get := func(setup func(*http.Request)) string {
		req, _ := http.NewRequest("GET", srv.URL+"/?x=1", nil)
		setup(req)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", string(body))
	}
	assert.Equal(t, "200 from-a", get(func(r *http.Request) { r.Header.Set("x-access-token", a) }))
	assert.Equal(t, "200 from-a", get(func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "token", Value: a}) }))
	assert.Equal(t, "200 from-a", get(func(r *http.Request) { r.URL.RawQuery = "access_token=" + a }))
	assert.Equal(t, "200 from-a", get(func(r *http.Request) { r.Header.Set("Authorization", "bearer "+a) }))
	assert.Equal(t, "200 from-b", get(func(r *http.Request) {
		r.Header.Set("x-access-token", b) // first in the order wins
		r.Header.Set("Authorization", "Bearer "+a)
	}))
	assert.Equal(t, `401 {"error":"credentials_required","error_description":"no token"}`+"\n", get(func(r *http.Request) {}))

	anon := httptest.NewServer(rjwthttp.Middleware(c, rjwthttp.WithAnonymous())(whoami))
	defer anon.Close()
	r := do(t, "GET", anon.URL, "", nil)
	assert.Equal(t, "anonymous", r.raw)
	assert401(t, do(t, "GET", anon.URL, "bad.token.here", nil))
	assert.Equal(t, "from-a", do(t, "GET", anon.URL, a, nil).raw)
}

func TestBadBodies(t *testing.T) {
	c := newClient(t)
	srv := app(t, c)
	for name, tc := range map[string]struct {
		path, body string
		status     int
	}{
		"malformed":        {"/authorize", `{"account": "a", "password": `, http.StatusBadRequest},
		"not an object":    {"/authorize", `["a", "b"]`, http.StatusBadRequest},
		"empty":            {"/authorize", ``, http.StatusBadRequest},
		"unknown field":    {"/register", `{"account": "a", "password": "pass", "admin": true}`, http.StatusBadRequest},
		"trailing data":    {"/register", `{"account": "a", "password": "pass"} {}`, http.StatusBadRequest},
		"missing fields":   {"/register", `{"account": "a"}`, http.StatusBadRequest},
		"oversized":        {"/register", `{"account": "` + strings.Repeat("a", 20<<10) + `", "password": "pass"}`, http.StatusRequestEntityTooLarge},
		"no refreshToken":  {"/refreshToken", `{}`, http.StatusBadRequest},
		"bad refreshToken": {"/refreshToken", `{"refreshToken": "nope"}`, http.StatusUnauthorized},
	} {
		t.Run(name, func(t *testing.T) {
			r := do(t, "POST", srv.URL+tc.path, "", tc.body)
			assert.Equal(t, tc.status, r.status, r.raw)
			assert.NotEmpty(t, r.body["error"], r.raw)
			assert.Contains(t, r.header.Get("Content-Type"), "application/json")
		})
	}
}

func TestRefreshRaceOverHTTPHasOneWinner(t *testing.T) {
	c := newClient(t, rjwt.WithRefreshGrace(0)) // strict rotation: one winner
	srv := app(t, c)
	p := pairOf(t, do(t, "POST", srv.URL+"/register", "", map[string]string{"account": "race", "password": "secret1"}))
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	start := make(chan struct{})
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Post(srv.URL+"/refreshToken", "application/json", strings.NewReader(`{"refreshToken":"`+p.RefreshToken+`"}`))
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		} else {
			assert.Equal(t, http.StatusUnauthorized, s)
		}
	}
	assert.Equal(t, 1, ok)
}

func TestFailedSessionSaveIs5xxNotASilentLoss(t *testing.T) {
	redisSrv := redistest.Start(t)
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(redisSrv.Addr()), rjwt.WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	defer c.Close()
	tok, err := c.Sign(context.Background(), "fay", rjwt.WithDataSession(map[string]int{"views": 1}))
	require.NoError(t, err)

	for _, writes := range []bool{true, false} {
		srv := httptest.NewServer(rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := rjwthttp.SessionFromContext(r.Context())
			assert.NoError(t, s.Set("views", 2))
			redisSrv.Kill() // Redis dies before the save
			if writes {
				w.WriteHeader(http.StatusOK)
				fmt.Fprint(w, "saved, says the handler")
			}
		})))
		r := do(t, "GET", srv.URL, tok, nil)
		srv.Close()
		assert.Equal(t, http.StatusServiceUnavailable, r.status, r.raw)
		assert.NotContains(t, r.raw, "saved, says the handler")
		require.NoError(t, redisSrv.Restart())
		// The restarted Redis lost the session; sign again for the next round.
		// go-redis, after failed dials, may refuse new ones for about a second
		// (its pool retries dialing in the background), so allow for that.
		require.Eventually(t, func() bool {
			tok, err = c.Sign(context.Background(), "fay", rjwt.WithDataSession(map[string]int{"views": 1}))
			return err == nil
		}, 10*time.Second, 100*time.Millisecond, "sign after a restart")
	}
}

func TestSessionDataGetSetDelete(t *testing.T) {
	c := newClient(t)
	tok, err := c.Sign(context.Background(), "gil", rjwt.WithDataSession(map[string]any{"theme": "dark", "cart": []int{1}}))
	require.NoError(t, err)
	srv := httptest.NewServer(rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := rjwthttp.SessionFromContext(r.Context())
		if !assert.True(t, ok) {
			return
		}
		var theme string
		found, err := s.Get("theme", &theme)
		assert.NoError(t, err)
		if found {
			assert.NoError(t, s.Delete("theme"))
			assert.NoError(t, s.Set("lang", "fr"))
		}
		fmt.Fprint(w, theme)
	})))
	defer srv.Close()
	assert.Equal(t, "dark", do(t, "GET", srv.URL, tok, nil).raw)
	assert.Equal(t, "", do(t, "GET", srv.URL, tok, nil).raw, "theme was deleted and saved")
	claims, err := c.Verify(context.Background(), tok, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `{"cart":[1],"lang":"fr"}`, string(claims.DataSession))
}

func TestSlidingExpiryAtMostOncePerInterval(t *testing.T) {
	c := newClient(t, rjwt.WithIdleTimeout("10 minutes"))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "hal", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	claims, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	srv := httptest.NewServer(rjwthttp.Middleware(c, rjwthttp.WithSliding(time.Hour, 30*time.Minute))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()

	expiry := func() time.Time {
		list, err := c.Sessions(ctx, "hal")
		require.NoError(t, err)
		require.Len(t, list, 1)
		return list[0].ExpiresAt
	}
	require.Equal(t, http.StatusOK, do(t, "GET", srv.URL, tok, nil).status)
	assert.WithinDuration(t, time.Now().Add(30*time.Minute), expiry(), 5*time.Second, "extended on first use")

	require.NoError(t, c.Touch(ctx, claims.Session, time.Second)) // no-op: never shortens
	base, nano := strings.TrimSuffix(c.SessionPattern("hal"), "*"), claims.Session[len(claims.Session)-21:]
	if l, err := c.Layout(ctx); err == nil && l == rjwt.LayoutLean {
		require.NoError(t, c.Redis().Do(ctx, "HPEXPIRE", base, 60000, "FIELDS", 1, nano).Err())
	} else {
		require.NoError(t, c.Redis().Do(ctx, "PEXPIRE", base+":"+nano, 60000).Err())
	}
	require.Equal(t, http.StatusOK, do(t, "GET", srv.URL, tok, nil).status)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), expiry(), 5*time.Second, "Verify's own idle extension; not the sliding ttl again within the interval")
}

func TestNewHandlersNeedsAnAccountStore(t *testing.T) {
	_, err := rjwthttp.NewHandlers(newClient(t), nil)
	require.Error(t, err)
	_, err = rjwthttp.NewHandlers(nil, &memAccounts{})
	require.Error(t, err)
}

func TestSessionChangesAfterTheHeadersAreRefusedNotLost(t *testing.T) {
	c := newClient(t)
	tok, err := c.Sign(context.Background(), "ivy")
	require.NoError(t, err)
	errs := make(chan error, 2)
	srv := httptest.NewServer(rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := rjwthttp.SessionFromContext(r.Context())
		errs <- s.Set("before", 1)
		fmt.Fprint(w, "hello") // the headers go out, with the session saved first
		errs <- s.Set("after", 2)
	})))
	defer srv.Close()
	r := do(t, "GET", srv.URL, tok, nil)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	assert.NoError(t, <-errs)
	assert.ErrorIs(t, <-errs, rjwthttp.ErrSessionSealed)
	claims, err := c.Verify(context.Background(), tok, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `{"before":1}`, string(claims.DataSession))
}

// failingAccounts answers every call with err.
type failingAccounts struct{ err error }

func (a failingAccounts) Authenticate(context.Context, rjwthttp.Credentials) (string, error) {
	return "", a.err
}

func (a failingAccounts) Register(context.Context, rjwthttp.Credentials) (string, error) {
	return "", a.err
}

func TestAccountStoreErrorsChooseTheAnswer(t *testing.T) {
	c := newClient(t)
	for name, tc := range map[string]struct {
		err    error
		status int
		code   string
	}{
		"wrong password":  {rjwthttp.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials"},
		"taken":           {rjwthttp.ErrAccountExists, http.StatusConflict, "account_exists"},
		"bad input":       {fmt.Errorf("%w: too short", rjwthttp.ErrBadInput), http.StatusBadRequest, "invalid_request"},
		"store down":      {fmt.Errorf("%w: dial tcp: refused", rjwthttp.ErrUnavailable), http.StatusServiceUnavailable, "unavailable"},
		"any other error": {fmt.Errorf("bug"), http.StatusInternalServerError, "server_error"},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := rjwthttp.NewHandlers(c, failingAccounts{tc.err})
			require.NoError(t, err)
			for _, handler := range []http.HandlerFunc{h.Authorize, h.Register} {
				rec := httptest.NewRecorder()
				handler(rec, httptest.NewRequest("POST", "/", strings.NewReader(`{"account":"a","password":"secret1"}`)))
				assert.Equal(t, tc.status, rec.Code, rec.Body.String())
				assert.Contains(t, rec.Body.String(), `"error":"`+tc.code+`"`)
			}
		})
	}
}

func TestSlidingUnderASecondPanicsAtOnce(t *testing.T) {
	c := newClient(t)
	assert.PanicsWithValue(t, "rjwthttp: WithSliding: ttl 500ms is under one second", func() {
		rjwthttp.Middleware(c, rjwthttp.WithSliding(time.Minute, 500*time.Millisecond))
	})
	assert.NotPanics(t, func() { rjwthttp.Middleware(c, rjwthttp.WithSliding(0, 0), nil) }, "off, and nil options are skipped")
}
