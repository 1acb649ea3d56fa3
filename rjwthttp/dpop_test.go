package rjwthttp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
	"github.com/rjwt/rjwt/rjwthttp"
)

// dpopServer serves /register, /authorize, /refreshToken and a protected
// /api, with opts given to the middleware and the handlers alike.
func dpopServer(t *testing.T, c *rjwt.Client, opts ...rjwthttp.SharedOption) *httptest.Server {
	t.Helper()
	var hopts []rjwthttp.HandlerOption
	var mopts []rjwthttp.Option
	for _, o := range opts {
		hopts, mopts = append(hopts, o), append(mopts, o)
	}
	h, err := rjwthttp.NewHandlers(c, &memAccounts{}, hopts...)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("GET /api", rjwthttp.Middleware(c, mopts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		io.WriteString(w, claims.ID)
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type dpopReply struct {
	status int
	header http.Header
	body   map[string]any
}

// send makes a request with optional Authorization and DPoP headers.
func send(t *testing.T, method, u, auth, proof string, body any) dpopReply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := dpopReply{status: res.StatusCode, header: res.Header}
	if json.Unmarshal(raw, &out.body) != nil {
		out.body = map[string]any{"text": string(raw)}
	}
	return out
}

var creds = map[string]string{"account": "ann", "password": "secret"}

// TestHTTPDPoP: register with a proof binds the session (token_type DPoP);
// the API accepts the token with a fresh proof under the DPoP scheme only;
// refresh needs a proof by the same key.
func TestHTTPDPoP(t *testing.T) {
	c := newClient(t)
	srv := dpopServer(t, c)
	k, err := dpoptest.NewKey("ES256")
	require.NoError(t, err)
	proof := func(method, path, token string) string {
		return k.Proof(dpoptest.Params{Method: method, URL: srv.URL + path, AccessToken: token})
	}
	r := send(t, "POST", srv.URL+"/register", "", proof("POST", "/register", ""), creds)
	require.Equal(t, 200, r.status, r.body)
	assert.Equal(t, "DPoP", r.body["token_type"])
	token, refresh := r.body["token"].(string), r.body["refreshToken"].(string)

	r = send(t, "GET", srv.URL+"/api", "DPoP "+token, proof("GET", "/api", token), nil)
	require.Equal(t, 200, r.status, r.body)
	assert.Equal(t, "user-ann", r.body["text"])

	p := proof("GET", "/api", token)
	require.Equal(t, 200, send(t, "GET", srv.URL+"/api", "DPoP "+token, p, nil).status)
	for name, tc := range map[string][2]string{
		"replay":          {"DPoP " + token, p},
		"as bearer":       {"Bearer " + token, ""},
		"bearer + proof":  {"Bearer " + token, proof("GET", "/api", token)},
		"no DPoP header":  {"DPoP " + token, ""},
		"wrong htu":       {"DPoP " + token, k.Proof(dpoptest.Params{Method: "GET", URL: "https://other.example/api", AccessToken: token})},
		"wrong method":    {"DPoP " + token, proof("POST", "/api", token)},
		"no ath":          {"DPoP " + token, proof("GET", "/api", "")},
		"garbage":         {"DPoP " + token, "x.y.z"},
		"other key proof": {"DPoP " + token, mustKey(t).Proof(dpoptest.Params{Method: "GET", URL: srv.URL + "/api", AccessToken: token})},
	} {
		t.Run(name, func(t *testing.T) {
			r := send(t, "GET", srv.URL+"/api", tc[0], tc[1], nil)
			assert.Equal(t, 401, r.status)
			www := r.header.Get("WWW-Authenticate")
			assert.True(t, strings.HasPrefix(www, "DPoP "), www)
			assert.Contains(t, www, `algs="ES256 EdDSA`)
			assert.Contains(t, www, `error="invalid_dpop_proof"`)
		})
	}
	// An expired or revoked token under DPoP: invalid_token, DPoP scheme.
	r = send(t, "GET", srv.URL+"/api", "DPoP "+token+"x", proof("GET", "/api", token+"x"), nil)
	assert.Equal(t, 401, r.status)
	assert.Contains(t, r.header.Get("WWW-Authenticate"), `DPoP algs=`)
	assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)

	// Refresh: without a proof, or with another key's, 401 and nothing spent.
	r = send(t, "POST", srv.URL+"/refreshToken", "", "", map[string]string{"refreshToken": refresh})
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "invalid_dpop_proof", r.body["error"])
	r = send(t, "POST", srv.URL+"/refreshToken", "", mustKey(t).Proof(dpoptest.Params{Method: "POST", URL: srv.URL + "/refreshToken"}), map[string]string{"refreshToken": refresh})
	assert.Equal(t, 401, r.status)
	r = send(t, "POST", srv.URL+"/refreshToken", "", proof("POST", "/refreshToken", ""), map[string]string{"refreshToken": refresh})
	require.Equal(t, 200, r.status, r.body)
	assert.Equal(t, "DPoP", r.body["token_type"])
	token = r.body["token"].(string)
	require.Equal(t, 200, send(t, "GET", srv.URL+"/api", "DPoP "+token, proof("GET", "/api", token), nil).status)

	// A plain login stays a bearer session.
	r = send(t, "POST", srv.URL+"/authorize", "", "", creds)
	require.Equal(t, 200, r.status)
	assert.Nil(t, r.body["token_type"])
	plain := r.body["token"].(string)
	require.Equal(t, 200, send(t, "GET", srv.URL+"/api", "Bearer "+plain, "", nil).status)
	assert.Equal(t, 401, send(t, "GET", srv.URL+"/api", "DPoP "+plain, proof("GET", "/api", plain), nil).status)
}

func mustKey(t *testing.T) *dpoptest.Key {
	k, err := dpoptest.NewKey("Ed25519")
	require.NoError(t, err)
	return k
}

// TestHTTPDPoPPublicURL: behind a proxy, htu is the public URL.
func TestHTTPDPoPPublicURL(t *testing.T) {
	c := newClient(t)
	const public = "https://api.example.com/auth"
	srv := dpopServer(t, c, rjwthttp.WithPublicURL(public+"/"))
	k := mustKey(t)
	r := send(t, "POST", srv.URL+"/authorize", "", k.Proof(dpoptest.Params{Method: "POST", URL: srv.URL + "/authorize"}), creds)
	assert.Equal(t, 401, r.status, "the proof names the internal URL")
	send(t, "POST", srv.URL+"/register", "", k.Proof(dpoptest.Params{Method: "POST", URL: public + "/register"}), creds)
	r = send(t, "POST", srv.URL+"/authorize", "", k.Proof(dpoptest.Params{Method: "POST", URL: public + "/authorize"}), creds)
	require.Equal(t, 200, r.status, r.body)
	token := r.body["token"].(string)
	r = send(t, "GET", srv.URL+"/api", "DPoP "+token, k.Proof(dpoptest.Params{Method: "GET", URL: "HTTPS://API.example.com:443/auth/api", AccessToken: token}), nil)
	assert.Equal(t, 200, r.status, r.body)
}

// TestHTTPDPoPNonce: with server nonces, a proof without one is answered
// use_dpop_nonce with a fresh DPoP-Nonce, and the retry with it passes.
func TestHTTPDPoPNonce(t *testing.T) {
	c := newClient(t)
	nonces := rjwthttp.NewNonces([]byte("a shared nonce key of the fleet"), time.Minute)
	srv := dpopServer(t, c, rjwthttp.WithDPoPNonce(nonces))
	k := mustKey(t)
	r := send(t, "POST", srv.URL+"/register", "", k.Proof(dpoptest.Params{Method: "POST", URL: srv.URL + "/register"}), creds)
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "use_dpop_nonce", r.body["error"])
	assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`)
	nonce := r.header.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)
	assert.True(t, nonces.Valid(nonce))
	assert.False(t, nonces.Valid(nonce+"A"))
	assert.False(t, rjwthttp.NewNonces(nil, 0).Valid(nonce), "another key's nonce")
	r = send(t, "POST", srv.URL+"/register", "", k.Proof(dpoptest.Params{Method: "POST", URL: srv.URL + "/register", Nonce: nonce}), creds)
	require.Equal(t, 200, r.status, r.body)
	token := r.body["token"].(string)
	nonce = r.header.Get("DPoP-Nonce")
	r = send(t, "GET", srv.URL+"/api", "DPoP "+token, k.Proof(dpoptest.Params{Method: "GET", URL: srv.URL + "/api", AccessToken: token, Nonce: nonce}), nil)
	assert.Equal(t, 200, r.status, r.body)
	r = send(t, "GET", srv.URL+"/api", "DPoP "+token, k.Proof(dpoptest.Params{Method: "GET", URL: srv.URL + "/api", AccessToken: token, Nonce: "stale"}), nil)
	assert.Equal(t, 401, r.status)
	assert.Equal(t, "use_dpop_nonce", r.body["error"])
}

func form(t *testing.T, u, auth string, vals url.Values) dpopReply {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(vals.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := dpopReply{status: res.StatusCode, header: res.Header}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out.body), string(raw))
	}
	return out
}

// TestIntrospectionRevocation: RFC 7662 and RFC 7009 answers.
func TestIntrospectionRevocation(t *testing.T) {
	c := newClient(t)
	auth := func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer gw" }
	mux := http.NewServeMux()
	mux.Handle("/introspect", rjwthttp.IntrospectionHandler(c, auth))
	mux.Handle("/revoke", rjwthttp.RevocationHandler(c, auth))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := t.Context()
	k := mustKey(t)
	pair, err := c.SignPair(ctx, "ann", rjwt.BindProof(rjwt.Proof{JWT: k.Proof(dpoptest.Params{Method: "POST", URL: "https://x/login"}), Method: "POST", URL: "https://x/login"}))
	require.NoError(t, err)

	assert.Equal(t, 401, form(t, srv.URL+"/introspect", "Bearer no", url.Values{"token": {pair.Token}}).status)
	assert.Equal(t, 401, form(t, srv.URL+"/revoke", "", url.Values{"token": {pair.Token}}).status)
	assert.Equal(t, 400, form(t, srv.URL+"/introspect", "Bearer gw", url.Values{}).status)
	res, err := http.Get(srv.URL + "/introspect")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 405, res.StatusCode)

	r := form(t, srv.URL+"/introspect", "Bearer gw", url.Values{"token": {pair.Token}, "token_type_hint": {"refresh_token"}})
	require.Equal(t, 200, r.status)
	assert.Equal(t, true, r.body["active"])
	assert.Equal(t, "ann", r.body["sub"])
	assert.Equal(t, "access_token", r.body["token_type"])
	assert.Equal(t, map[string]any{"jkt": k.JKT}, r.body["cnf"])
	for _, f := range []string{"exp", "iat", "jti", "sid"} {
		assert.NotEmpty(t, r.body[f], f)
	}
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	r = form(t, srv.URL+"/introspect", "Bearer gw", url.Values{"token": {pair.RefreshToken}})
	assert.Equal(t, "refresh_token", r.body["token_type"])
	assert.Equal(t, map[string]any{"active": false}, form(t, srv.URL+"/introspect", "Bearer gw", url.Values{"token": {"garbage"}}).body)

	// Revocation: unknown tokens are 200 too; a refresh token ends the session.
	r = form(t, srv.URL+"/revoke", "Bearer gw", url.Values{"token": {"garbage"}})
	assert.Equal(t, 200, r.status)
	assert.Nil(t, r.body)
	r = form(t, srv.URL+"/revoke", "Bearer gw", url.Values{"token": {pair.RefreshToken}, "token_type_hint": {"refresh_token"}})
	assert.Equal(t, 200, r.status)
	assert.Nil(t, r.body)
	assert.Equal(t, map[string]any{"active": false}, form(t, srv.URL+"/introspect", "Bearer gw", url.Values{"token": {pair.Token}}).body)
	_, err = c.Introspect(ctx, pair.Token)
	assert.ErrorIs(t, err, rjwt.ErrSessionNotFound)
	assert.Equal(t, 200, form(t, srv.URL+"/revoke", "Bearer gw", url.Values{"token": {pair.Token}}).status)

	// A rotated-away refresh token is inactive.
	p2, err := c.SignPair(ctx, "bob")
	require.NoError(t, err)
	_, err = c.Refresh(ctx, p2.RefreshToken)
	require.NoError(t, err)
	assert.Equal(t, false, form(t, srv.URL+"/introspect", "Bearer gw", url.Values{"token": {p2.RefreshToken}}).body["active"])

	// Redis unavailable: 503 with Retry-After.
	down, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr("127.0.0.1:1"))
	require.NoError(t, err)
	defer down.Close()
	dsrv := httptest.NewServer(rjwthttp.RevocationHandler(down, auth))
	defer dsrv.Close()
	r = form(t, dsrv.URL, "Bearer gw", url.Values{"token": {p2.Token}})
	assert.Equal(t, 503, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	isrv := httptest.NewServer(rjwthttp.IntrospectionHandler(down, auth))
	defer isrv.Close()
	assert.Equal(t, 503, form(t, isrv.URL, "Bearer gw", url.Values{"token": {p2.Token}}).status)
}
