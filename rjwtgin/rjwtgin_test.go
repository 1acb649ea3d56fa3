package rjwtgin_test

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

	"github.com/gin-gonic/gin"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwtgin"
	"github.com/rjwt/rjwt/rjwthttp"
	"github.com/rjwt/rjwt/rjwttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() { gin.SetMode(gin.TestMode) }

// big is a session value over rjwt's default session-data limit (64 KiB).
var big = strings.Repeat("x", 70<<10)

// app is a gin app behind Middleware with session data.
func app(c *rjwt.Client, opts ...rjwthttp.Option) *gin.Engine {
	r := gin.New()
	r.Use(rjwtgin.Middleware(c, append([]rjwthttp.Option{rjwthttp.WithSessionData()}, opts...)...))
	r.GET("/me", func(ctx *gin.Context) {
		claims, ok1 := rjwtgin.Claims(ctx)
		s, ok2 := rjwtgin.Session(ctx)
		fromReq, ok3 := rjwthttp.FromContext(ctx.Request.Context())
		var theme string
		if _, err := s.Get("theme", &theme); err != nil {
			ctx.Error(err)
			return
		}
		ctx.JSON(200, gin.H{"user": claims.ID, "session": s.Name() == claims.Session,
			"inContext": ok1 && ok2 && ok3 && fromReq == claims, "theme": theme})
	})
	r.POST("/theme", func(ctx *gin.Context) {
		s, _ := rjwtgin.Session(ctx)
		if err := s.Set("theme", ctx.Query("v")); err != nil {
			ctx.Error(err)
			return
		}
		ctx.String(200, "ok")
	})
	r.POST("/big", func(ctx *gin.Context) { // writes a response
		s, _ := rjwtgin.Session(ctx)
		if err := s.Set("big", big); err != nil {
			ctx.Error(err)
			return
		}
		ctx.JSON(200, gin.H{"saved": true})
	})
	r.POST("/big-status", func(ctx *gin.Context) { // sets a status, writes nothing
		s, _ := rjwtgin.Session(ctx)
		if err := s.Set("big", big); err != nil {
			ctx.Error(err)
			return
		}
		ctx.Status(http.StatusAccepted)
	})
	r.GET("/unavailable", func(ctx *gin.Context) {
		ctx.Error(fmt.Errorf("reading the cart: %w", rjwt.ErrUnavailable))
	})
	r.GET("/unknown", func(ctx *gin.Context) { ctx.Error(errors.New("boom")) })
	return r
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
// rjwthttp.Middleware answers it, and the handlers do not run.
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
			r := gin.New()
			r.GET("/me", rjwtgin.Middleware(c, rjwthttp.WithSessionData()), func(*gin.Context) { ran = true })
			for _, tc := range []struct{ name, token, challenge string }{
				{"missing", "", "Bearer"},
				{"invalid", "not.a.token", `Bearer error="invalid_token", error_description="invalid token"`},
				{"revoked", revoked, `Bearer error="invalid_token", error_description="session revoked"`},
				{"expired", expired, `Bearer error="invalid_token", error_description="token expired"`},
			} {
				want, got := do(ref, "GET", "/me", tc.token), do(r, "GET", "/me", tc.token)
				assert.Equal(t, http.StatusUnauthorized, got.Code, tc.name)
				assert.Equal(t, tc.challenge, got.Header().Get("WWW-Authenticate"), tc.name)
				same(t, want, got)
			}
			assert.False(t, ran, "a refused request is aborted")
		})
	}
}

// TestUnavailable: Redis down is a 503 with Retry-After, as rjwthttp
// answers it; so is a wrapped rjwt.ErrUnavailable a handler records.
func TestUnavailable(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := rjwttest.New(t, rjwt.WithSecret(key))
	token := rjwttest.Token(t, c, "alice")
	r := app(c)
	ref := rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	got := do(r, "GET", "/unavailable", token)
	want := httptest.NewRecorder()
	rjwthttp.WriteError(want, rjwt.ErrUnavailable)
	assert.Equal(t, http.StatusServiceUnavailable, got.Code)
	assert.Equal(t, "1", got.Header().Get("Retry-After"))
	same(t, want, got)

	up := rjwttest.Down(t, c)
	want, got = do(ref, "GET", "/me", token), do(r, "GET", "/me", token)
	assert.Equal(t, http.StatusServiceUnavailable, got.Code)
	assert.Equal(t, "1", got.Header().Get("Retry-After"))
	same(t, want, got)
	up()
	assert.Equal(t, http.StatusOK, do(r, "GET", "/me", token).Code)

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

// TestUnknownErrorsLeftToGin: an error rjwthttp does not classify stays in
// c.Errors for the application's own error handling.
func TestUnknownErrorsLeftToGin(t *testing.T) {
	c := rjwttest.New(t)
	r := gin.New()
	r.Use(func(ctx *gin.Context) {
		ctx.Next()
		if err := ctx.Errors.Last(); err != nil && !ctx.Writer.Written() {
			ctx.String(599, "app: %v", err.Err)
		}
	})
	r.GET("/unknown", rjwtgin.Middleware(c), func(ctx *gin.Context) { ctx.Error(errors.New("boom")) })
	got := do(r, "GET", "/unknown", rjwttest.Token(t, c, "alice"))
	assert.Equal(t, 599, got.Code)
	assert.Equal(t, "app: boom", got.Body.String())
}

// TestSessionInContext: claims and session are in gin's context and the
// request's; a small edit is visible on the next request.
func TestSessionInContext(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := b.newClient(t)
			token := rjwttest.Token(t, c, "alice")
			r := app(c)
			got := do(r, "GET", "/me", token)
			require.Equal(t, http.StatusOK, got.Code, got.Body.String())
			assert.JSONEq(t, `{"user":"alice","session":true,"inContext":true,"theme":""}`, got.Body.String())

			require.Equal(t, http.StatusOK, do(r, "POST", "/theme?v=dark", token).Code)
			got = do(r, "GET", "/me", token)
			assert.JSONEq(t, `{"user":"alice","session":true,"inContext":true,"theme":"dark"}`, got.Body.String())
		})
	}
}

// TestSessionTooLarge: a 70 KB session edit is a 400, whether the handler
// writes a response or only sets a status, and nothing is saved.
func TestSessionTooLarge(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			c := b.newClient(t)
			token := rjwttest.Token(t, c, "alice")
			r := app(c)
			for _, path := range []string{"/big", "/big-status"} {
				got := do(r, "POST", path, token)
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

// TestHandlers: rjwthttp's handlers work from gin with gin.WrapF: login,
// a protected route, refresh, logout everywhere.
func TestHandlers(t *testing.T) {
	c := rjwttest.New(t, rjwt.WithMultiple(true))
	h, err := rjwthttp.NewHandlers(c, accounts{})
	require.NoError(t, err)
	r := gin.New()
	mw := rjwtgin.Middleware(c, rjwthttp.WithSessionData())
	r.POST("/login", gin.WrapF(h.Authorize))
	r.POST("/refresh", gin.WrapF(h.RefreshToken))
	r.POST("/logout", mw, gin.WrapF(h.Logout))
	r.POST("/logoutAll", mw, gin.WrapF(h.LogoutAll))
	r.GET("/me", mw, func(ctx *gin.Context) {
		claims, _ := rjwtgin.Claims(ctx)
		ctx.String(200, claims.ID)
	})
	post := func(path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	var p1, p2 rjwt.Pair
	require.NoError(t, json.Unmarshal(post("/login", "", `{"account":"alice","password":"pw"}`).Body.Bytes(), &p1))
	require.NoError(t, json.Unmarshal(post("/login", "", `{"account":"alice","password":"pw"}`).Body.Bytes(), &p2))
	assert.Equal(t, "alice", do(r, "GET", "/me", p1.Token).Body.String())
	assert.Equal(t, http.StatusUnauthorized, post("/login", "", `{"account":"alice","password":"no"}`).Code)

	var p3 rjwt.Pair
	rec := post("/refresh", "", `{"refreshToken":"`+p1.RefreshToken+`"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p3))
	assert.Equal(t, http.StatusNoContent, post("/logout", p3.Token, "").Code)
	assert.Equal(t, http.StatusUnauthorized, do(r, "GET", "/me", p3.Token).Code)

	rec = post("/logoutAll", p2.Token, "")
	assert.JSONEq(t, `{"revoked":1}`, rec.Body.String())
	assert.Equal(t, http.StatusUnauthorized, do(r, "GET", "/me", p2.Token).Code)
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
	r := gin.New()
	r.GET("/", rjwtgin.Middleware(c, rjwthttp.WithAnonymous()), func(ctx *gin.Context) {
		_, ok := rjwtgin.Claims(ctx)
		_, hasSession := rjwtgin.Session(ctx)
		ctx.String(200, "claims %v, session %v", ok, hasSession)
	})
	assert.Equal(t, "claims false, session false", do(r, "GET", "/", "").Body.String())
	assert.Equal(t, "claims true, session false", do(r, "GET", "/", rjwttest.Token(t, c, "alice")).Body.String())
	assert.Equal(t, http.StatusUnauthorized, do(r, "GET", "/", "x.y.z").Code)
}

// TestStream: a handler that flushes gets its session saved before the
// first bytes go out.
func TestStream(t *testing.T) {
	c := rjwttest.New(t)
	token := rjwttest.Token(t, c, "alice")
	r := gin.New()
	r.GET("/", rjwtgin.Middleware(c, rjwthttp.WithSessionData()), func(ctx *gin.Context) {
		s, _ := rjwtgin.Session(ctx)
		require.NoError(t, s.Set("streamed", true))
		for i := range 3 {
			fmt.Fprintf(ctx.Writer, "chunk %d;", i)
			ctx.Writer.Flush()
		}
		assert.ErrorIs(t, s.Set("late", true), rjwthttp.ErrSessionSealed)
	})
	got := do(r, "GET", "/", token)
	assert.Equal(t, "chunk 0;chunk 1;chunk 2;", got.Body.String())
	assert.True(t, got.Flushed)
	claims, err := c.Verify(context.Background(), token, rjwt.WithSession())
	require.NoError(t, err)
	assert.JSONEq(t, `{"streamed":true}`, string(claims.DataSession))
}

// TestOutsideMiddleware: Claims and Session report false, without
// panicking, on a context Middleware did not see.
func TestOutsideMiddleware(t *testing.T) {
	ctx, _ := gin.CreateTestContext(httptest.NewRecorder())
	_, ok := rjwtgin.Claims(ctx)
	assert.False(t, ok)
	_, ok = rjwtgin.Session(ctx)
	assert.False(t, ok)
	ctx.Request = httptest.NewRequest("GET", "/", nil)
	_, ok = rjwtgin.Claims(ctx)
	assert.False(t, ok)
}

// TestErrorHandler: rjwthttp.WithErrorHandler answers both the refused
// requests and the errors handlers record.
func TestErrorHandler(t *testing.T) {
	c := rjwttest.New(t)
	var seen []error
	eh := func(w http.ResponseWriter, r *http.Request, err error) {
		seen = append(seen, err)
		w.WriteHeader(http.StatusTeapot)
	}
	r := app(c, rjwthttp.WithErrorHandler(eh))
	assert.Equal(t, http.StatusTeapot, do(r, "GET", "/me", "").Code)
	assert.Equal(t, http.StatusTeapot, do(r, "GET", "/unavailable", rjwttest.Token(t, c, "alice")).Code)
	require.Len(t, seen, 2)
	assert.ErrorIs(t, seen[0], rjwthttp.ErrNoToken)
	assert.ErrorIs(t, seen[1], rjwt.ErrUnavailable)
}
