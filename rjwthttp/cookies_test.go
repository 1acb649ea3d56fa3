package rjwthttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// roleAccounts is memAccounts whose users get a role in their tokens
// (AccountSignOptions).
type roleAccounts struct{ memAccounts }

func (*roleAccounts) SignOptions(_ context.Context, id string, _ *http.Request) ([]rjwt.SignOption, error) {
	return []rjwt.SignOption{rjwt.WithDataToken(map[string]string{"role": "admin-of-" + id})}, nil
}

// cookieServer serves the flow in cookie mode; tls makes it an HTTPS one.
func cookieServer(t *testing.T, tls bool, opts ...rjwthttp.HandlerOption) (*httptest.Server, *http.Client) {
	t.Helper()
	c := newClient(t)
	cookies := rjwthttp.WithCookies(rjwthttp.Cookies{RefreshPath: "/refreshToken"})
	h, err := rjwthttp.NewHandlers(c, &roleAccounts{}, append([]rjwthttp.HandlerOption{cookies,
		rjwthttp.WithSignOptions(rjwt.WithTTL("15 minutes"))}, opts...)...)
	require.NoError(t, err)
	auth := rjwthttp.Middleware(c, cookies)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("POST /logout", auth(http.HandlerFunc(h.Logout)))
	mux.Handle("POST /logoutAll", auth(http.HandlerFunc(h.LogoutAll)))
	mux.Handle("GET /me", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		json.NewEncoder(w).Encode(claims)
	})))
	srv := httptest.NewUnstartedServer(mux)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := srv.Client()
	hc.Jar = jar
	return srv, hc
}

// browse sends a request as a browser page would: headers given as
// "Name: value" lines.
func browse(t *testing.T, hc *http.Client, method, url, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestCookieModeDeliversHttpOnlyCookiesAndReadsThem(t *testing.T) {
	srv, hc := cookieServer(t, false)
	sameOrigin := []string{"Sec-Fetch-Site: same-origin", "Origin: " + srv.URL}
	resp, body := browse(t, hc, "POST", srv.URL+"/register", `{"account":"ann","password":"secret1"}`, sameOrigin...)
	require.Equal(t, 200, resp.StatusCode, body)
	assert.JSONEq(t, `{"expiresIn":900,"refreshExpiresIn":2592000}`, body, "the tokens are in the cookies only")

	access, refresh := cookieNamed(resp, "rjwt"), cookieNamed(resp, "rjwt-refresh")
	require.NotNil(t, access, "plain http on loopback: no prefix")
	require.NotNil(t, refresh)
	for _, c := range []*http.Cookie{access, refresh} {
		assert.True(t, c.HttpOnly, c.Name)
		assert.False(t, c.Secure, "over plain http on loopback, for development")
		assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	}
	assert.Equal(t, "/", access.Path)
	assert.Equal(t, "/refreshToken", refresh.Path, "the refresh token goes to the refresh route only")
	assert.Equal(t, 900, access.MaxAge)

	resp, body = browse(t, hc, "GET", srv.URL+"/me", "")
	require.Equal(t, 200, resp.StatusCode, body)
	assert.Contains(t, body, `"role":"admin-of-user-ann"`, "per-user sign options")

	// A refresh with no token in the body takes the cookie's, empty or {}.
	for _, b := range []string{"", "{}"} {
		resp, body = browse(t, hc, "POST", srv.URL+"/refreshToken", b, sameOrigin...)
		require.Equal(t, 200, resp.StatusCode, body)
		assert.NotContains(t, body, "token\"")
		require.NotNil(t, cookieNamed(resp, "rjwt"))
		assert.NotEqual(t, access.Value, cookieNamed(resp, "rjwt").Value, "a new pair")
	}
	resp, _ = browse(t, hc, "GET", srv.URL+"/me", "")
	require.Equal(t, 200, resp.StatusCode, "the rotated cookie works")

	resp, _ = browse(t, hc, "POST", srv.URL+"/logout", "", sameOrigin...)
	require.Equal(t, 204, resp.StatusCode)
	for _, name := range []string{"rjwt", "rjwt-refresh"} {
		c := cookieNamed(resp, name)
		require.NotNil(t, c, name)
		assert.Negative(t, c.MaxAge, "logout clears %s", name)
	}
	resp, _ = browse(t, hc, "GET", srv.URL+"/me", "")
	assert.Equal(t, 401, resp.StatusCode)
}

func TestCookieModeRefusesCrossOriginUnsafeRequests(t *testing.T) {
	srv, hc := cookieServer(t, false)
	resp, body := browse(t, hc, "POST", srv.URL+"/register", `{"account":"bo","password":"secret1"}`, "Sec-Fetch-Site: same-origin")
	require.Equal(t, 200, resp.StatusCode, body)
	for name, headers := range map[string][]string{
		"Sec-Fetch-Site cross-site":                  {"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"},
		"Sec-Fetch-Site same-site (a sibling port)":  {"Sec-Fetch-Site: same-site", "Origin: http://127.0.0.1:1"},
		"an old browser: Origin of another host":     {"Origin: https://evil.example"},
		"a form post from elsewhere, no cookie sent": {"Sec-Fetch-Site: cross-site", "Content-Type: application/x-www-form-urlencoded"},
	} {
		t.Run(name, func(t *testing.T) {
			client := hc
			if strings.Contains(name, "no cookie") {
				client = &http.Client{} // SameSite=Lax keeps the cookies off
			}
			for _, path := range []string{"/logout", "/logoutAll", "/refreshToken"} {
				resp, body := browse(t, client, "POST", srv.URL+path, "", headers...)
				assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", path, body)
				assert.Contains(t, body, `"error":"cross_origin"`)
				assert.Empty(t, resp.Cookies(), "nothing cleared")
			}
			resp, body := browse(t, hc, "GET", srv.URL+"/me", "", headers...)
			assert.Equal(t, 200, resp.StatusCode, "GET is safe, and the session lives: %s", body)
			// A login from another origin sets no cookie (another site
			// cannot sign the browser in to an account of its own): it
			// gets the JSON pair, as a bearer client on another origin.
			resp, body = browse(t, client, "POST", srv.URL+"/register", `{"account":"mallory`+strings.ReplaceAll(name, " ", "")+`","password":"secret1"}`, headers...)
			assert.Equal(t, 200, resp.StatusCode, body)
			assert.Empty(t, resp.Cookies())
			assert.Contains(t, body, `"refreshToken":`)
		})
	}
}

func TestBearerClientsAreNotAffectedByCookieMode(t *testing.T) {
	srv, hc := cookieServer(t, false)
	resp, body := browse(t, hc, "POST", srv.URL+"/register", `{"account":"cy","password":"secret1"}`)
	require.Equal(t, 200, resp.StatusCode, body)
	assert.Empty(t, resp.Cookies(), "curl gets the JSON pair, no cookies")
	var p rjwt.Pair
	require.NoError(t, json.Unmarshal([]byte(body), &p))
	require.NotEmpty(t, p.Token)
	// A cross-origin app sending its token in a header is no forgery.
	resp, body = browse(t, hc, "POST", srv.URL+"/logoutAll", "", "Authorization: Bearer "+p.Token, "Sec-Fetch-Site: cross-site", "Origin: https://app.example")
	assert.Equal(t, 200, resp.StatusCode, body)
	r := do(t, "POST", srv.URL+"/refreshToken", "", map[string]string{"refreshToken": p.RefreshToken})
	assert.Equal(t, 401, r.status, "logged out everywhere: %s", r.raw)
}

func TestCookiesOverHTTPSAreSecureAndPrefixed(t *testing.T) {
	srv, hc := cookieServer(t, true)
	resp, body := browse(t, hc, "POST", srv.URL+"/register", `{"account":"di","password":"secret1"}`, "Sec-Fetch-Site: same-origin")
	require.Equal(t, 200, resp.StatusCode, body)
	access, refresh := cookieNamed(resp, "__Host-rjwt"), cookieNamed(resp, "__Secure-rjwt-refresh")
	require.NotNil(t, access, "%v", resp.Cookies())
	require.NotNil(t, refresh)
	assert.True(t, access.Secure && refresh.Secure && access.HttpOnly && refresh.HttpOnly)
	assert.Equal(t, "/", access.Path, "__Host- requires Path=/")
	assert.Empty(t, access.Domain, "__Host- forbids Domain")

	resp, _ = browse(t, hc, "GET", srv.URL+"/me", "")
	assert.Equal(t, 200, resp.StatusCode, "read by cookie")
	// A plain-named cookie does not count over HTTPS: a sibling subdomain
	// could have planted it.
	u, _ := url.Parse(srv.URL)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{{Name: "rjwt", Value: access.Value}})
	hc.Jar = jar
	resp, _ = browse(t, hc, "GET", srv.URL+"/me", "")
	assert.Equal(t, 401, resp.StatusCode)
}

func TestLoginReadsConfiguredFieldsAndFormPosts(t *testing.T) {
	srv, hc := cookieServer(t, false, rjwthttp.WithCredentials(rjwthttp.CredentialFields("email", "password")))
	resp, body := browse(t, hc, "POST", srv.URL+"/register", `{"email":"ed@example.com","password":"secret1"}`)
	require.Equal(t, 200, resp.StatusCode, body)
	assert.Empty(t, resp.Cookies())

	resp, body = browse(t, hc, "POST", srv.URL+"/register", "email=fi%40example.com&password=secret1&remember=1",
		"Content-Type: application/x-www-form-urlencoded", "Sec-Fetch-Site: same-origin")
	require.Equal(t, 200, resp.StatusCode, body)
	assert.NotNil(t, cookieNamed(resp, "rjwt"), "a form post is a browser's: cookies")
	resp, body = browse(t, hc, "GET", srv.URL+"/me", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, body, `"id":"user-fi@example.com"`)

	for in, want := range map[string]string{
		`{"account":"x","password":"secret1"}`: `unknown field \"account\" (want \"email\" and \"password\")`,
		`{"email":1,"password":"secret1"}`:     `field \"email\" must be a string`,
		`{"email":"x",`:                        `malformed JSON`,
		``:                                     `empty body: expected a JSON object`,
	} {
		resp, body = browse(t, hc, "POST", srv.URL+"/register", in)
		assert.Equal(t, 400, resp.StatusCode, in)
		assert.Contains(t, body, `"error_description":"`+want+`"`, in)
	}
}

func TestOneErrorHandlerAndLoggerForMiddlewareAndHandlers(t *testing.T) {
	c := newClient(t)
	var seen []error
	teapot := rjwthttp.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
		seen = append(seen, err)
		w.WriteHeader(http.StatusTeapot)
	})
	sink, logger := newLogSink()
	logs := rjwthttp.WithLogger(logger)
	h, err := rjwthttp.NewHandlers(c, failingAccounts{errors.New("disk on fire")}, teapot, logs)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.Handle("GET /me", rjwthttp.Middleware(c, teapot, logs)(http.NotFoundHandler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	r := do(t, "GET", srv.URL+"/me", "", nil)
	assert.Equal(t, http.StatusTeapot, r.status, "the middleware's")
	r = do(t, "POST", srv.URL+"/authorize", "", map[string]string{"account": "a", "password": "b"})
	assert.Equal(t, http.StatusTeapot, r.status, "the handlers'")
	require.Len(t, seen, 2)
	assert.ErrorIs(t, seen[0], rjwthttp.ErrNoToken)
	require.Len(t, sink.records(t), 1, "the 500 is logged where WithLogger says")
}

func TestOneErrUnavailable(t *testing.T) {
	assert.Same(t, rjwt.ErrUnavailable, rjwthttp.ErrUnavailable)
	err := fmt.Errorf("%w: db down", rjwthttp.ErrUnavailable)
	assert.ErrorIs(t, err, rjwt.ErrUnavailable)
}

func TestErrorDescriptionsNameTheProblemNotGoPackages(t *testing.T) {
	srv := app(t, newClient(t))
	for body, want := range map[string]string{
		`{"account":"a","pass":"x"}`: `unknown field "pass" (want "account" and "password")`,
		`{"account":"a",`:            `malformed JSON`,
		`[1]`:                        `expected a JSON object`,
	} {
		r := do(t, "POST", srv.URL+"/authorize", "", body)
		assert.Equal(t, 400, r.status, body)
		assert.Equal(t, want, r.body["error_description"], body)
	}
	r := do(t, "POST", srv.URL+"/refreshToken", "", `{"refreshToken":1}`)
	assert.Equal(t, `field "refreshToken" must be a string`, r.body["error_description"])
	r = do(t, "POST", srv.URL+"/refreshToken", "", `{"refresh":"x"}`)
	assert.Equal(t, `unknown field "refresh"`, r.body["error_description"])
}
