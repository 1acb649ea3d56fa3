package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemoEndpoints: with RJWT_INTROSPECT_SECRET the demo serves
// introspection and revocation to callers presenting it, Bearer or Basic.
func TestDemoEndpoints(t *testing.T) {
	base, _ := startDemo(t, env(map[string]string{"RJWT_SECRET": string(secret), "RJWT_INTROSPECT_SECRET": "gw-secret"}))
	status, pair := call(t, &httptest.Server{URL: base}, "POST", "/register", "", `{"account":"ivy","password":"correct horse"}`)
	require.Equal(t, 200, status, pair)
	token := tokenOf(t, pair)
	post := func(path string, auth func(*http.Request)) (int, map[string]any) {
		req, err := http.NewRequest("POST", base+path, strings.NewReader(url.Values{"token": {token}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		auth(req)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	bearer := func(s string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s) }
	}
	status, _ = post("/oauth/introspect", bearer("wrong"))
	assert.Equal(t, 401, status)
	status, body := post("/oauth/introspect", bearer("gw-secret"))
	require.Equal(t, 200, status)
	assert.Equal(t, true, body["active"])
	status, body = post("/oauth/introspect", func(r *http.Request) { r.SetBasicAuth("gateway", "gw-secret") })
	require.Equal(t, 200, status)
	assert.Equal(t, "ivy", body["sub"])
	status, _ = post("/oauth/revoke", bearer("gw-secret"))
	assert.Equal(t, 200, status)
	_, body = post("/oauth/introspect", bearer("gw-secret"))
	assert.Equal(t, false, body["active"])
}
