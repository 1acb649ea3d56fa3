package rjwthttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/rjwthttp"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("rjwt: verify: %w", err) }
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"redis unavailable", wrap(fmt.Errorf("%w: dial tcp: connection refused", rjwt.ErrUnavailable)), 503, "unavailable"},
		{"account store unavailable", fmt.Errorf("%w: db down", rjwthttp.ErrUnavailable), 503, "unavailable"},
		{"client closed", wrap(rjwt.ErrClosed), 503, "unavailable"},
		{"a deadline", wrap(context.DeadlineExceeded), 503, "unavailable"},
		{"the request canceled", wrap(context.Canceled), 503, "unavailable"},
		{"a network error", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), 503, "unavailable"},
		{"no token", rjwthttp.ErrNoToken, 401, "credentials_required"},
		{"invalid token", wrap(rjwt.ErrInvalidToken), 401, "invalid_token"},
		{"expired", wrap(rjwt.ErrTokenExpired), 401, "invalid_token"},
		{"session gone", wrap(rjwt.ErrSessionNotFound), 401, "invalid_token"},
		{"refresh reused", wrap(rjwt.ErrRefreshReused), 401, "invalid_token"},
		{"wrong password", rjwthttp.ErrInvalidCredentials, 401, "invalid_credentials"},
		{"account taken", rjwthttp.ErrAccountExists, 409, "account_exists"},
		{"body too large", fmt.Errorf("%w: %w", rjwthttp.ErrBadInput, &http.MaxBytesError{Limit: 10}), 413, "invalid_request"},
		{"bad input", fmt.Errorf("%w: too short", rjwthttp.ErrBadInput), 400, "invalid_request"},
		{"invalid id", wrap(rjwt.ErrInvalidID), 400, "invalid_request"},
		{"invalid ttl", wrap(rjwt.ErrInvalidTTL), 400, "invalid_request"},
		{"too large", wrap(rjwt.ErrTooLarge), 400, "invalid_request"},
		{"a marshalling bug", fmt.Errorf("rjwt: WithDataToken: %w", &json.UnsupportedTypeError{}), 500, "server_error"},
		{"a plain error", errors.New("something else"), 500, "server_error"},
		{"sealed session", rjwthttp.ErrSessionSealed, 500, "server_error"},
		{"not one of the user's sessions", fmt.Errorf("%w: x", rjwthttp.ErrNoSession), 404, "not_found"},
		{"cross-origin in cookie mode", fmt.Errorf("%w: cross-origin request detected", rjwthttp.ErrCrossOrigin), 403, "cross_origin"},
		{"unavailable wins over a token sentinel", errors.Join(rjwt.ErrSessionNotFound, rjwt.ErrUnavailable), 503, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code := rjwthttp.Classify(tc.err)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.code, code)

			rec := httptest.NewRecorder()
			rjwthttp.WriteError(rec, tc.err)
			assert.Equal(t, tc.status, rec.Code)
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
			assert.Equal(t, tc.code, body["error"])
			assert.Contains(t, rec.Header().Get("Content-Type"), "application/json")
			assert.Equal(t, tc.status == 503, rec.Header().Get("Retry-After") == "1", "Retry-After only on 503")
			switch tc.code {
			case "credentials_required":
				assert.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))
			case "invalid_token":
				assert.True(t, strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token", error_description="`))
			default:
				assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
			}
			if tc.status == 500 {
				assert.JSONEq(t, `{"error":"server_error"}`, rec.Body.String(), "a 500 tells the client nothing of its cause")
			}
			if tc.status == 400 {
				desc := body["error_description"]
				assert.NotEmpty(t, desc, "a 400 says what was wrong")
				assert.NotRegexp(t, `(rjwthttp|rjwt|json): `, desc, "it names the problem, not Go packages")
				last := desc[strings.LastIndex(desc, " ")+1:]
				assert.True(t, strings.HasSuffix(tc.err.Error(), last), "the error's own words: %q in %q", desc, tc.err.Error())
			}
		})
	}
}

// logSink is a slog.Logger whose records a test can read.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

func newLogSink() (*logSink, *slog.Logger) {
	s := &logSink{}
	return s, slog.New(slog.NewJSONHandler(s, nil))
}

func TestHandlersAnswerTheirOwnConfigurationErrorsWith500AndLogThem(t *testing.T) {
	c := newClient(t)
	for name, tc := range map[string]struct {
		accounts rjwthttp.Accounts
		opts     []rjwt.SignOption
		inLog    string
	}{
		"a user's WithDataToken value that cannot marshal": {userOptsAccounts{rjwt.WithDataToken(func() {})}, nil, "WithDataToken"},
		"a user's TTL rjwt refuses":                        {userOptsAccounts{rjwt.WithTTL("soon")}, nil, "invalid TTL"},
		"an id rjwt refuses, from Accounts":                {emptyIDAccounts{}, nil, "invalid id"},
		"an Accounts error of no known kind":               {failingAccounts{errors.New("disk on fire")}, nil, "disk on fire"},
	} {
		t.Run(name, func(t *testing.T) {
			sink, logger := newLogSink()
			h, err := rjwthttp.NewHandlers(c, tc.accounts, rjwthttp.WithSignOptions(tc.opts...), rjwthttp.WithHandlersLogger(logger))
			require.NoError(t, err)
			srv := httptest.NewServer(http.HandlerFunc(h.Register))
			defer srv.Close()
			r := do(t, "POST", srv.URL+"/register?x=y", "", map[string]string{"account": "jo", "password": "secret1"})
			assert.Equal(t, http.StatusInternalServerError, r.status, r.raw)
			assert.JSONEq(t, `{"error":"server_error"}`, r.raw)
			recs := sink.records(t)
			require.Len(t, recs, 1)
			assert.Equal(t, "ERROR", recs[0]["level"])
			assert.Equal(t, "POST", recs[0]["method"])
			assert.Equal(t, "/register", recs[0]["path"], "the path, never the query (tokens can be in it)")
			assert.Contains(t, recs[0]["error"], tc.inLog)
		})
	}
}

// userOptsAccounts accepts anyone and gives every user its options
// (AccountSignOptions).
type userOptsAccounts []rjwt.SignOption

func (userOptsAccounts) Authenticate(context.Context, rjwthttp.Credentials) (string, error) {
	return "u", nil
}

func (userOptsAccounts) Register(context.Context, rjwthttp.Credentials) (string, error) {
	return "u", nil
}

func (a userOptsAccounts) SignOptions(context.Context, string, *http.Request) ([]rjwt.SignOption, error) {
	return a, nil
}

func TestNewHandlersRefusesWhatEveryLoginWouldFailOn(t *testing.T) {
	c := newClient(t)
	for name, tc := range map[string]struct {
		opts []rjwthttp.HandlerOption
		want error
	}{
		"a misspelt TTL":         {[]rjwthttp.HandlerOption{rjwthttp.WithSignOptions(rjwt.WithTTL("15 minuts"))}, rjwt.ErrInvalidTTL},
		"a misspelt refresh TTL": {[]rjwthttp.HandlerOption{rjwthttp.WithSignOptions(rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 dayz"))}, rjwt.ErrInvalidTTL},
		"cookies without a path": {[]rjwthttp.HandlerOption{rjwthttp.WithCookies(rjwthttp.Cookies{})}, rjwthttp.ErrInvalidOption},
		"cookies SameSite=None":  {[]rjwthttp.HandlerOption{rjwthttp.WithCookies(rjwthttp.Cookies{RefreshPath: "/r", SameSite: http.SameSiteNoneMode})}, rjwthttp.ErrInvalidOption},
		"a malformed origin":     {[]rjwthttp.HandlerOption{rjwthttp.WithCookies(rjwthttp.Cookies{RefreshPath: "/r", TrustedOrigins: []string{"example.com/x"}})}, rjwthttp.ErrInvalidOption},
		"no body allowed":        {[]rjwthttp.HandlerOption{rjwthttp.WithMaxBody(0)}, rjwthttp.ErrInvalidOption},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := rjwthttp.NewHandlers(c, &memAccounts{}, tc.opts...)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, h)
		})
	}
	_, err := rjwthttp.NewHandlers(c, &memAccounts{}, rjwthttp.WithSignOptions(rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 days")),
		rjwthttp.WithCookies(rjwthttp.Cookies{RefreshPath: "/refreshToken", TrustedOrigins: []string{"https://admin.example.com"}}))
	require.NoError(t, err, "good options pass")
	_, err = rjwthttp.NewHandlers(nil, &memAccounts{})
	require.ErrorIs(t, err, rjwthttp.ErrInvalidOption)
}

// emptyIDAccounts accepts anyone and returns an id rjwt cannot use.
type emptyIDAccounts struct{}

func (emptyIDAccounts) Authenticate(context.Context, rjwthttp.Credentials) (string, error) {
	return "", nil
}

func (emptyIDAccounts) Register(context.Context, rjwthttp.Credentials) (string, error) {
	return "", nil
}

func TestWhatTheHandlersCanClassifyIsNotLogged(t *testing.T) {
	c := newClient(t)
	sink, logger := newLogSink()
	h, err := rjwthttp.NewHandlers(c, &memAccounts{}, rjwthttp.WithHandlersLogger(logger))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.HandleFunc("POST /logout", h.Logout) // without Middleware: ErrNoToken
	srv := httptest.NewServer(mux)
	defer srv.Close()
	assert.Equal(t, 401, do(t, "POST", srv.URL+"/authorize", "", map[string]string{"account": "x", "password": "y"}).status)
	assert.Equal(t, 400, do(t, "POST", srv.URL+"/register", "", `{"account":`).status)
	assert.Equal(t, 401, do(t, "POST", srv.URL+"/refreshToken", "", map[string]string{"refreshToken": "x.y.z"}).status)
	r := do(t, "POST", srv.URL+"/logout", "", nil)
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "Bearer", r.header.Get("WWW-Authenticate"))
	assert.Empty(t, sink.records(t))
}

func TestErrorHandlersDecideTheAnswer(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "kim")
	require.NoError(t, err)
	revoked, err := c.Sign(ctx, "lee")
	require.NoError(t, err)
	_, err = c.RevokeAll(ctx, "lee")
	require.NoError(t, err)

	var mu sync.Mutex
	var seen []error
	teapot := func(w http.ResponseWriter, r *http.Request, err error) {
		mu.Lock()
		seen = append(seen, err)
		mu.Unlock()
		status, code := rjwthttp.Classify(err)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%d %s at %s", status, code, r.URL.Path)
	}
	sink, logger := newLogSink()
	mw := rjwthttp.Middleware(c, rjwthttp.WithErrorHandler(teapot), rjwthttp.WithLogger(logger))
	h, err := rjwthttp.NewHandlers(c, failingAccounts{errors.New("bug")}, rjwthttp.WithHandlersErrorHandler(teapot), rjwthttp.WithHandlersLogger(logger))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /me", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })))
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tc := range []struct {
		method, path, token string
		body                any
		want                string
		is                  error
	}{
		{"GET", "/me", tok, nil, "ok", nil},
		{"GET", "/me", "", nil, "401 credentials_required at /me", rjwthttp.ErrNoToken},
		{"GET", "/me", "garbage", nil, "401 invalid_token at /me", rjwt.ErrInvalidToken},
		{"GET", "/me", revoked, nil, "401 invalid_token at /me", rjwt.ErrSessionNotFound},
		{"POST", "/authorize", "", `{"account":`, "400 invalid_request at /authorize", rjwthttp.ErrBadInput},
		{"POST", "/authorize", "", `{"account":"a","password":"` + strings.Repeat("p", 20<<10) + `"}`, "413 invalid_request at /authorize", rjwthttp.ErrBadInput},
		{"POST", "/authorize", "", map[string]string{"account": "a", "password": "b"}, "500 server_error at /authorize", nil},
		{"POST", "/refreshToken", "", map[string]string{"refreshToken": "x.y.z"}, "401 invalid_token at /refreshToken", rjwt.ErrInvalidToken},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		r := do(t, tc.method, srv.URL+tc.path, tc.token, tc.body)
		assert.Equal(t, tc.want, r.raw)
		if tc.want == "ok" {
			assert.Equal(t, http.StatusOK, r.status)
			continue
		}
		assert.Equal(t, http.StatusTeapot, r.status, "the hook's answer, not the default")
		mu.Lock()
		require.Len(t, seen, 1, tc.want)
		if tc.is != nil {
			assert.ErrorIs(t, seen[0], tc.is)
		}
		mu.Unlock()
	}
	recs := sink.records(t)
	require.Len(t, recs, 1, "the 500 is logged even when a hook answers it; nothing else is")
	assert.Equal(t, "bug", recs[0]["error"])
}

func TestMiddlewareLogsWhatItCannotClassify(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "mo")
	require.NoError(t, err)
	claims, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	// Something else wrote the session's key as a string: Redis answers
	// WRONGTYPE to the session data read, an error of no known kind.
	key := strings.TrimSuffix(c.SessionPattern("mo"), "*") + ":" + claims.Session[len(claims.Session)-21:]
	if l, err := c.Layout(ctx); err == nil && l == rjwt.LayoutLean {
		key = strings.TrimSuffix(c.SessionPattern("mo"), "*") // the user's one hash
	}
	require.NoError(t, c.Redis().Set(ctx, key, "clobbered", time.Hour).Err())

	sink, logger := newLogSink()
	reached := false
	srv := httptest.NewServer(rjwthttp.Middleware(c, rjwthttp.WithSessionData(), rjwthttp.WithLogger(logger))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })))
	defer srv.Close()
	r := do(t, "GET", srv.URL+"/data", tok, nil)
	assert.Equal(t, http.StatusInternalServerError, r.status, r.raw)
	assert.JSONEq(t, `{"error":"server_error"}`, r.raw)
	assert.False(t, reached)
	recs := sink.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "ERROR", recs[0]["level"])
	assert.Equal(t, "/data", recs[0]["path"])
	assert.Contains(t, recs[0]["error"], "WRONGTYPE")
}

func TestKilledRedisIs503WithRetryAfterAndIsNotLogged(t *testing.T) {
	redisSrv := redistest.Start(t)
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(redisSrv.Addr()), rjwt.WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	defer c.Close()
	tok, err := c.Sign(context.Background(), "nia")
	require.NoError(t, err)
	sink, logger := newLogSink()
	srv := httptest.NewServer(rjwthttp.Middleware(c, rjwthttp.WithLogger(logger))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	require.Equal(t, http.StatusOK, do(t, "GET", srv.URL, tok, nil).status)

	redisSrv.Kill()
	start := time.Now()
	r := do(t, "GET", srv.URL, tok, nil)
	t.Logf("answered in %v: %s", time.Since(start), r.raw)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, r.raw)
	assert.Equal(t, "1", r.header.Get("Retry-After"))
	assert.Empty(t, r.header.Get("WWW-Authenticate"), "an outage never asks the client to log in again")
	assert.Equal(t, "unavailable", r.body["error"])
	assert.Empty(t, sink.records(t), "an outage is classified, not logged as a bug")
}

// The package documentation's example is the runnable Example, line for line.
func TestPackageDocExampleIsTheRunnableExample(t *testing.T) {
	doc, err := os.ReadFile("middleware.go")
	require.NoError(t, err)
	var snippet []string
	in := false
	for _, line := range strings.Split(string(doc), "\n") {
		switch {
		case line == "// # Example":
			in = true
		case in && strings.HasPrefix(line, "//\t"):
			snippet = append(snippet, strings.TrimSpace(strings.TrimPrefix(line, "//")))
		case in && len(snippet) > 0:
			in = false
		}
	}
	require.Greater(t, len(snippet), 5, "the doc has an example")

	ex, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	_, body, found := strings.Cut(string(ex), "\nfunc Example() {\n")
	require.True(t, found, "example_test.go has func Example")
	body, _, _ = strings.Cut(body, "\n}\n")
	var lines []string
	for _, line := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimSpace(line))
	}
	joined := "\n" + strings.Join(lines, "\n") + "\n"
	assert.Contains(t, joined, "\n"+strings.Join(snippet, "\n")+"\n", "func Example holds the doc's example")
}

// Without WithHandlersLogger, the handlers log through the client's logger
// (rjwt.WithLogger); WithHandlersLogger wins over it.
func TestHandlersLogThroughTheClientsLogger(t *testing.T) {
	clientSink, clientLogger := newLogSink()
	c := newClient(t, rjwt.WithLogger(clientLogger))
	ownSink, ownLogger := newLogSink()
	for _, tc := range []struct {
		name            string
		opts            []rjwthttp.HandlerOption
		logged, nothing *logSink
	}{
		{"default", nil, clientSink, ownSink},
		{"WithHandlersLogger", []rjwthttp.HandlerOption{rjwthttp.WithHandlersLogger(ownLogger)}, ownSink, clientSink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientSink.reset()
			ownSink.reset()
			h, err := rjwthttp.NewHandlers(c, failingAccounts{errors.New("bug in the account store")}, tc.opts...)
			require.NoError(t, err)
			srv := httptest.NewServer(http.HandlerFunc(h.Authorize))
			defer srv.Close()
			assert.Equal(t, 500, do(t, "POST", srv.URL, "", map[string]string{"account": "a", "password": "b"}).status)
			var recs []map[string]any // the client's own background records aside
			for _, r := range tc.logged.records(t) {
				if msg, _ := r["msg"].(string); strings.HasPrefix(msg, "rjwthttp") {
					recs = append(recs, r)
				}
			}
			require.Len(t, recs, 1)
			assert.Equal(t, "ERROR", recs[0]["level"])
			assert.Contains(t, recs[0]["error"], "bug in the account store")
			for _, r := range tc.nothing.records(t) {
				assert.NotContains(t, r["msg"], "rjwthttp", "the other logger got %v", r)
			}
		})
	}
}

func (s *logSink) reset() {
	s.mu.Lock()
	s.buf.Reset()
	s.mu.Unlock()
}
