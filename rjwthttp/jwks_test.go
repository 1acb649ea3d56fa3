package rjwthttp_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

func TestJWKSHandlerServesThePublicKeys(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	c, err := rjwt.New(rjwt.WithSigningKey("ed", priv), rjwt.WithVerificationKey("old", testSecret), rjwt.WithAddr(redisAddr))
	require.NoError(t, err)
	defer c.Close()
	want, err := c.JWKS()
	require.NoError(t, err)

	srv := httptest.NewServer(rjwthttp.JWKSHandler(c))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	assert.Equal(t, "public, max-age=300", res.Header.Get("Cache-Control"))
	assert.Equal(t, string(want), string(body))
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(body, &set))
	require.Len(t, set.Keys, 1, "the HS256 key must not be served")
	assert.Equal(t, "ed", set.Keys[0]["kid"])
	assert.NotContains(t, string(body), string(testSecret))

	head, err := http.Head(srv.URL)
	require.NoError(t, err)
	head.Body.Close()
	assert.Equal(t, http.StatusOK, head.StatusCode)
	assert.Equal(t, "public, max-age=300", head.Header.Get("Cache-Control"))

	post, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	post.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, post.StatusCode)
	assert.Equal(t, "GET, HEAD", post.Header.Get("Allow"))
}
