package main

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// The page's wiring without a browser (examples/demo/browsertest drives
// the page itself in Chromium): GET / is the page, whose only script the
// Content-Security-Policy allows by hash, and the routes it calls run in
// cookie mode for browsers.
func TestThePageAndItsCookieMode(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("page:"))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}
	send := func(method, path, site, body string) (*http.Response, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := browser.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, string(raw)
	}

	resp, page := send("GET", "/", "none", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	sum := sha256.Sum256([]byte(pageJS))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	assert.Contains(t, page, "<script>"+pageJS+"</script>", "the script the hash allows")
	resp, _ = send("GET", "/nothing-here", "none", "")
	assert.Equal(t, 404, resp.StatusCode, "GET / is the page, not a catch-all")

	resp, body := send("POST", "/register", "same-origin", `{"account":"pat","password":"correct horse"}`)
	require.Equal(t, 200, resp.StatusCode, body)
	assert.NotContains(t, body, "token", "a browser's tokens are in HttpOnly cookies only")
	resp, body = send("GET", "/me", "same-origin", "")
	require.Equal(t, 200, resp.StatusCode, body)
	assert.Contains(t, body, `"views":1`)
	resp, body = send("POST", "/logoutAll", "cross-site", "")
	assert.Equal(t, 403, resp.StatusCode, body)
	resp, body = send("POST", "/refreshToken", "same-origin", "")
	require.Equal(t, 200, resp.StatusCode, "the session lives: %s", body)
	resp, body = send("GET", "/me", "same-origin", "")
	assert.Contains(t, body, `"views":2`, "the same session")
	resp, _ = send("POST", "/logout", "same-origin", "")
	assert.Equal(t, 204, resp.StatusCode)
	resp, _ = send("GET", "/me", "same-origin", "")
	assert.Equal(t, 401, resp.StatusCode)
}
