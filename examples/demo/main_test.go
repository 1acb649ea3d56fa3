package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

var redisAddr string

func TestMain(m *testing.M) { redistest.Main(m, &redisAddr) }

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestWalkthroughOnARealRedis(t *testing.T) {
	var out bytes.Buffer
	rdb, closeRedis, err := connect(redisAddr, "", "", &out)
	require.NoError(t, err)
	defer closeRedis()
	require.NoError(t, walkthrough(context.Background(), &out, rdb, secret))
	text := out.String()
	for _, want := range []string{"redis: " + redisAddr, "1. sign alice", "2. verify: id=alice", `private={"plan":"pro"}`,
		"ErrSessionNotFound: true", "4. revoke alice:", "ErrInvalidToken: true"} {
		assert.Contains(t, text, want)
	}
}

func TestWithoutRedisTheDemoEmbedsOne(t *testing.T) {
	port, err := redistest.FreePort()
	require.NoError(t, err)
	var out bytes.Buffer
	rdb, closeRedis, err := connect("", "", fmt.Sprintf("127.0.0.1:%d", port), &out)
	require.NoError(t, err)
	defer closeRedis()
	assert.Contains(t, out.String(), "embedded in-process Redis (miniredis")
	require.NoError(t, walkthrough(context.Background(), &out, rdb, secret))
	assert.Contains(t, out.String(), "ErrSessionNotFound: true")
	assert.Contains(t, out.String(), "4. revoke alice:")
}

func TestRedisURLIsHonoured(t *testing.T) {
	var out bytes.Buffer
	rdb, closeRedis, err := connect("", "redis://"+redisAddr+"/2", "", &out)
	require.NoError(t, err)
	defer closeRedis()
	assert.Equal(t, 2, rdb.(*redis.Client).Options().DB)
	_, _, err = connect("", "redis://127.0.0.1:1", "", io.Discard)
	assert.Error(t, err)
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestDemoServerFlow(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("demo:"))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	creds := `{"account":"alice","password":"correct horse"}`
	status, pair := call(t, srv, "POST", "/register", "", creds)
	require.Equal(t, 200, status, pair)
	status, _ = call(t, srv, "POST", "/register", "", creds)
	assert.Equal(t, 409, status)
	status, _ = call(t, srv, "POST", "/register", "", `{"account":"bob","password":"short"}`)
	assert.Equal(t, 400, status)
	status, _ = call(t, srv, "POST", "/authorize", "", `{"account":"alice","password":"wrong horse"}`)
	assert.Equal(t, 401, status)
	status, _ = call(t, srv, "POST", "/authorize", "", `{"account":"nobody","password":"wrong horse"}`)
	assert.Equal(t, 401, status)
	status, pair = call(t, srv, "POST", "/authorize", "", creds)
	require.Equal(t, 200, status)
	token := pair["token"].(string)
	assert.Equal(t, float64(900), pair["expiresIn"])

	for want := 1; want <= 2; want++ {
		status, body := call(t, srv, "GET", "/me", token, "")
		require.Equal(t, 200, status)
		assert.Equal(t, float64(want), body["views"])
		assert.Equal(t, "alice", body["claims"].(map[string]any)["id"])
	}
	status, next := call(t, srv, "POST", "/refreshToken", "", `{"refreshToken":"`+pair["refreshToken"].(string)+`"}`)
	require.Equal(t, 200, status)
	token = next["token"].(string)
	_, body := call(t, srv, "GET", "/me", token, "")
	assert.Equal(t, float64(3), body["views"], "the same session after refresh")

	status, _ = call(t, srv, "POST", "/logout", token, "")
	assert.Equal(t, 204, status)
	status, _ = call(t, srv, "GET", "/me", token, "")
	assert.Equal(t, 401, status)

	// Passwords are stored hashed.
	stored, err := rdb.Get(context.Background(), accountKey("alice")).Result()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(stored, "$2"), "bcrypt hash")
	assert.NotContains(t, stored, "correct horse")
}

func TestThePrintedCurlSessionWorks(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("curl:"))
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, rdb.Del(context.Background(), accountKey("alice")).Err())
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()

	script := curlSession(srv.URL)
	for _, r := range []string{"/register", "/authorize", "/me", "/refreshToken", "/logout"} {
		assert.Contains(t, script, "$B"+r)
	}
	out, err := exec.Command("bash", "-e", "-c", script).CombinedOutput()
	require.NoError(t, err, string(out))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 7, string(out))
	assert.Contains(t, lines[0], `"refreshToken":`, "register")
	assert.Contains(t, lines[1], `"refreshToken":`, "authorize")
	assert.Contains(t, lines[2], `"views":1}`)
	assert.Contains(t, lines[3], `"views":2}`)
	assert.Contains(t, lines[4], `"refreshToken":`, "refresh")
	assert.Equal(t, "204", lines[5], "logout")
	assert.Contains(t, lines[6], `"error":"invalid_token"`, "the token stops working")
}

func TestAccountStoreDownIs503(t *testing.T) {
	port, err := redistest.FreePort()
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer rdb.Close()
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb))
	require.NoError(t, err)
	defer client.Close()
	h, err := newServer(client, rdb)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/register", "/authorize"} {
		status, body := call(t, srv, "POST", path, "", `{"account":"alice","password":"correct horse"}`)
		assert.Equal(t, 503, status, path)
		assert.Equal(t, "unavailable", body["error"], path)
	}
}
