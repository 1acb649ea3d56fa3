package rjwtecho_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwtecho"
	"github.com/rjwt/rjwt/rjwthttp"
	"github.com/rjwt/rjwt/rjwttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// big is a session value over rjwt's default session-data limit (64 KiB).
var big = strings.Repeat("x", 70<<10)

// app is an echo app behind Middleware with session data.
func app(c *rjwt.Client, opts ...rjwthttp.Option) *echo.Echo {
	e := echo.New()
	e.Use(rjwtecho.Middleware(c, append([]rjwthttp.Option{rjwthttp.WithSessionData()}, opts...)...))
	e.GET("/me", func(ctx echo.Context) error {
		claims, ok1 := rjwtecho.Claims(ctx)
		s, ok2 := rjwtecho.Session(ctx)
		fromReq, ok3 := rjwthttp.FromContext(ctx.Request().Context())
		var theme string
		if _, err := s.Get("theme", &theme); err != nil {
			return err
		}
		return ctx.JSON(200, map[string]any{"user": claims.ID, "session": s.Name() == claims.Session,
			"inContext": ok1 && ok2 && ok3 && fromReq == claims, "theme": theme})
	})
	e.POST("/theme", func(ctx echo.Context) error {
		s, _ := rjwtecho.Session(ctx)
		if err := s.Set("theme", ctx.QueryParam("v")); err != nil {
			return err
		}
		return ctx.String(200, "ok")
	})
	e.POST("/big", func(ctx echo.Context) error { // writes a response
		s, _ := rjwtecho.Session(ctx)
		if err := s.Set("big", big); err != nil {
			return err
		}
		return ctx.JSON(200, map[string]bool{"saved": true})
	})
	e.POST("/big-status", func(ctx echo.Context) error { // writes only a status
		s, _ := rjwtecho.Session(ctx)
		if err := s.Set("big", big); err != nil {
			return err
		}
		return ctx.NoContent(http.StatusAccepted)
	})
	e.POST("/big-nothing", func(ctx echo.Context) error { // writes nothing
		s, _ := rjwtecho.Session(ctx)
		return s.Set("big", big)
	})
	e.GET("/unavailable", func(echo.Context) error {
		return fmt.Errorf("reading the cart: %w", rjwt.ErrUnavailable)
	})
	e.GET("/unknown", func(echo.Context) error { return errors.New("boom") })
	e.GET("/teapot", func(echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "tea") })
	return e
}

func do(h http.Handler, method, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// same asserts that two answers are the same: status, headers, body.
func same(t *testing.T, want, got *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, want.Code, got.Code)
	assert.Equal(t, want.Header(), got.Header())
	assert.Equal(t, want.Body.String(), got.Body.String())
}

// TestRefusedAsRjwthttp: each refused request is answered exactly as
// rjwthttp.Middleware answers it, and the handler does not run.
func TestRefusedAsRjwthttp(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := b.newClient(t, rjwt.WithLeeway(0))
			ctx := context.Background()
			revoked := rjwttest.Token(t, c, "alice")
			claims, err := c.Verify(ctx, revoked)
			require.NoError(t, err)
			require.NoError(t, c.Revoke(ctx, claims.Session))
			expired := rjwttest.Token(t, c, "alice", rjwt.WithTTL("1 second"))
			time.Sleep(1100 * time.Millisecond)

			ran := false
			ref := rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			e := echo.New()
			e.GET("/me", func(echo.Context) error { ran = true; return nil }, rjwtecho.Middleware(c, rjwthttp.WithSessionData()))
			for _, tc := range []struct{ name, token, challenge string }{
				{"missing", "", "Bearer"},
				{"invalid", "not.a.token", `Bearer error="invalid_token", error_description="invalid token"`},
				{"revoked", revoked, `Bearer error="invalid_token", error_description="session revoked"`},
				{"expired", expired, `Bearer error="invalid_token", error_description="token expired"`},
			} {
				want, got := do(ref, "GET", "/me", tc.token), do(e, "GET", "/me", tc.token)
				assert.Equal(t, http.StatusUnauthorized, got.Code, tc.name)
				assert.Equal(t, tc.challenge, got.Header().Get("WWW-Authenticate"), tc.name)
				same(t, want, got)
			}
			assert.False(t, ran, "a refused request does not reach the handler")
		})
	}
}

// TestUnavailable: Redis down is a 503 with Retry-After, as rjwthttp
// answers it; so is a wrapped rjwt.ErrUnavailable a handler returns (not
// echo's 500).
func TestUnavailable(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := rjwttest.New(t, rjwt.WithSecret(key))
	token := rjwttest.Token(t, c, "alice")
	e := app(c)
	ref := rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	got := do(e, "GET", "/unavailable", token)
	want := httptest.NewRecorder()
	rjwthttp.WriteError(want, rjwt.ErrUnavailable)
	assert.Equal(t, http.StatusServiceUnavailable, got.Code)
	assert.Equal(t, "1", got.Header().Get("Retry-After"))
	same(t, want, got)

	up := rjwttest.Down(t, c)
	want, got = do(ref, "GET", "/me", token), do(e, "GET", "/me", token)
	assert.Equal(t, http.StatusServiceUnavailable, got.Code)
	assert.Equal(t, "1", got.Header().Get("Retry-After"))
	same(t, want, got)
	up()
	assert.Equal(t, http.StatusOK, do(e, "GET", "/me", token).Code)

	// A client whose Redis was never there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l.Close()
	gone, err := rjwt.New(rjwt.WithAddr(l.Addr().String()), rjwt.WithSecret(key)) // knows the token's key
	require.NoError(t, err)
	defer gone.Close()
	ref = rjwthttp.Middleware(gone, rjwthttp.WithSessionData())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	want, got = do(ref, "GET", "/me", token), do(app(gone), "GET", "/me", token)
	assert.Equal(t, http.StatusServiceUnavailable, got.Code)
	assert.Equal(t, "1", got.Header().Get("Retry-After"))
	same(t, want, got)
}

// TestOtherErrorsLeftToEcho: errors rjwthttp does not classify, and echo's
// own, go to echo's HTTPErrorHandler.
func TestOtherErrorsLeftToEcho(t *testing.T) {
	c := rjwttest.New(t)
	token := rjwttest.Token(t, c, "alice")
	e := app(c)
	got := do(e, "GET", "/teapot", token)
	assert.Equal(t, http.StatusTeapot, got.Code)
	assert.JSONEq(t, `{"message":"tea"}`, got.Body.String())
	got = do(e, "GET", "/unknown", token)
	assert.Equal(t, http.StatusInternalServerError, got.Code)
	assert.JSONEq(t, `{"message":"Internal Server Error"}`, got.Body.String())
}

// TestSessionInContext: claims and session are in echo's context and the
// request's; a small edit is visible on the next request.
func TestSessionInContext(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := b.newClient(t)
			token := rjwttest.Token(t, c, "alice")
			e := app(c)
			got := do(e, "GET", "/me", token)
			require.Equal(t, http.StatusOK, got.Code, got.Body.String())
			assert.JSONEq(t, `{"user":"alice","session":true,"inContext":true,"theme":""}`, got.Body.String())

			require.Equal(t, http.StatusOK, do(e, "POST", "/theme?v=dark", token).Code)
			got = do(e, "GET", "/me", token)
			assert.JSONEq(t, `{"user":"alice","session":true,"inContext":true,"theme":"dark"}`, got.Body.String())
		})
	}
}

// TestSessionTooLarge: a 70 KB session edit is a 400, whether the handler
// writes a response, only a status or nothing, and nothing is saved.
func TestSessionTooLarge(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := b.newClient(t)
			token := rjwttest.Token(t, c, "alice")
			e := app(c)
			for _, path := range []string{"/big", "/big-status", "/big-nothing"} {
				got := do(e, "POST", path, token)
				assert.Equal(t, http.StatusBadRequest, got.Code, path)
				var body struct{ Error string }
				require.NoError(t, json.Unmarshal(got.Body.Bytes(), &body), got.Body.String())
				assert.Equal(t, "invalid_request", body.Error)
				assert.NotContains(t, got.Body.String(), "saved")
			}
			claims, err := c.Verify(context.Background(), token, rjwt.WithSession())
			require.NoError(t, err)
			assert.Empty(t, claims.DataSession, "nothing was saved")
		})
	}
}

// TestResponseStatus: echo's own response (what a logger middleware reads)
// holds the status that was sent, also when a failed save replaced it.
func TestResponseStatus(t *testing.T) {
	c := rjwttest.New(t)
	token := rjwttest.Token(t, c, "alice")
	var status []int
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ctx echo.Context) error {
			err := next(ctx)
			status = append(status, ctx.Response().Status)
			return err
		}
	})
	e.Use(rjwtecho.Middleware(c, rjwthttp.WithSessionData()))
	e.POST("/big", func(ctx echo.Context) error {
		s, _ := rjwtecho.Session(ctx)
		if err := s.Set("big", big); err != nil {
			return err
		}
		return ctx.String(200, "saved")
	})
	e.GET("/me", func(ctx echo.Context) error { return ctx.String(200, "ok") })
	assert.Equal(t, http.StatusBadRequest, do(e, "POST", "/big", token).Code)
	assert.Equal(t, http.StatusOK, do(e, "GET", "/me", token).Code)
	assert.Equal(t, http.StatusUnauthorized, do(e, "GET", "/me", "").Code)
	assert.Equal(t, []int{http.StatusBadRequest, http.StatusOK, http.StatusUnauthorized}, status)
}

// TestHandlers: rjwthttp's handlers work from echo with echo.WrapHandler:
// login, a protected route, refresh, logout, logout everywhere.
func TestHandlers(t *testing.T) {
	c := rjwttest.New(t, rjwt.WithMultiple(true))
	h, err := rjwthttp.NewHandlers(c, accounts{})
	require.NoError(t, err)
	e := echo.New()
	mw := rjwtecho.Middleware(c, rjwthttp.WithSessionData())
	e.POST("/login", echo.WrapHandler(http.HandlerFunc(h.Authorize)))
	e.POST("/refresh", echo.WrapHandler(http.HandlerFunc(h.RefreshToken)))
	e.POST("/logout", echo.WrapHandler(http.HandlerFunc(h.Logout)), mw)
	e.POST("/logoutAll", echo.WrapHandler(http.HandlerFunc(h.LogoutAll)), mw)
	e.GET("/me", func(ctx echo.Context) error {
		claims, _ := rjwtecho.Claims(ctx)
		return ctx.String(200, claims.ID)
	}, mw)
	post := func(path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	var p1, p2 rjwt.Pair
	require.NoError(t, json.Unmarshal(post("/login", "", `{"account":"alice","password":"pw"}`).Body.Bytes(), &p1))
	require.NoError(t, json.Unmarshal(post("/login", "", `{"account":"alice","password":"pw"}`).Body.Bytes(), &p2))
	assert.Equal(t, "alice", do(e, "GET", "/me", p1.Token).Body.String())
	assert.Equal(t, http.StatusUnauthorized, post("/login", "", `{"account":"alice","password":"no"}`).Code)

	var p3 rjwt.Pair
	rec := post("/refresh", "", `{"refreshToken":"`+p1.RefreshToken+`"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p3))
	assert.Equal(t, http.StatusNoContent, post("/logout", p3.Token, "").Code)
	assert.Equal(t, http.StatusUnauthorized, do(e, "GET", "/me", p3.Token).Code)

	rec = post("/logoutAll", p2.Token, "")
	assert.JSONEq(t, `{"revoked":1}`, rec.Body.String())
	assert.Equal(t, http.StatusUnauthorized, do(e, "GET", "/me", p2.Token).Code)
}

// accounts knows alice, password "pw".
type accounts struct{}

func (accounts) Authenticate(_ context.Context, c rjwthttp.Credentials) (string, error) {
	if c.Account == "alice" && c.Password == "pw" {
		return "alice", nil
	}
	return "", rjwthttp.ErrInvalidCredentials
}

func (accounts) Register(context.Context, rjwthttp.Credentials) (string, error) {
	return "", rjwthttp.ErrAccountExists
}

// TestAnonymous: with rjwthttp.WithAnonymous a request without a token
// reaches the handler with no claims; one with a bad token is still a 401.
func TestAnonymous(t *testing.T) {
	c := rjwttest.New(t)
	e := echo.New()
	e.GET("/", func(ctx echo.Context) error {
		_, ok := rjwtecho.Claims(ctx)
		_, hasSession := rjwtecho.Session(ctx)
		return ctx.String(200, fmt.Sprintf("claims %v, session %v", ok, hasSession))
	}, rjwtecho.Middleware(c, rjwthttp.WithAnonymous()))
	assert.Equal(t, "claims false, session false", do(e, "GET", "/", "").Body.String())
	assert.Equal(t, "claims true, session false", do(e, "GET", "/", rjwttest.Token(t, c, "alice")).Body.String())
	assert.Equal(t, http.StatusUnauthorized, do(e, "GET", "/", "x.y.z").Code)
}

// TestStream: a handler that flushes gets its session saved before the
// first bytes go out.
func TestStream(t *testing.T) {
	c := rjwttest.New(t)
	token := rjwttest.Token(t, c, "alice")
	e := echo.New()
	e.GET("/", func(ctx echo.Context) error {
		s, _ := rjwtecho.Session(ctx)
		require.NoError(t, s.Set("streamed", true))
		for i := range 3 {
			fmt.Fprintf(ctx.Response(), "chunk %d;", i)
			ctx.Response().Flush()
		}
		assert.ErrorIs(t, s.Set("late", true), rjwthttp.ErrSessionSealed)
		return nil
	}, rjwtecho.Middleware(c, rjwthttp.WithSessionData()))
	got := do(e, "GET", "/", token)
	assert.Equal(t, "chunk 0;chunk 1;chunk 2;", got.Body.String())
	assert.True(t, got.Flushed)
	claims, err := c.Verify(context.Background(), token, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `{"streamed":true}`, string(claims.DataSession))
}

// TestErrorHandler: rjwthttp.WithErrorHandler answers both the refused
// requests and the errors handlers return.
func TestErrorHandler(t *testing.T) {
	c := rjwttest.New(t)
	var seen []error
	eh := func(w http.ResponseWriter, r *http.Request, err error) {
		seen = append(seen, err)
		w.WriteHeader(http.StatusTeapot)
	}
	e := app(c, rjwthttp.WithErrorHandler(eh))
	assert.Equal(t, http.StatusTeapot, do(e, "GET", "/me", "").Code)
	assert.Equal(t, http.StatusTeapot, do(e, "GET", "/unavailable", rjwttest.Token(t, c, "alice")).Code)
	require.Len(t, seen, 2)
	assert.ErrorIs(t, seen[0], rjwthttp.ErrNoToken)
	assert.ErrorIs(t, seen[1], rjwt.ErrUnavailable)
}
