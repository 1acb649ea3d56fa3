package rjwt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
)

const (
	loginURL = "https://api.example.com/login"
	apiURL   = "https://api.example.com/v1/items"
)

func dpopKey(t *testing.T, alg string) *dpoptest.Key {
	t.Helper()
	k, err := dpoptest.NewKey(alg)
	require.NoError(t, err)
	return k
}

// loginProof is a proof for the login request.
func loginProof(k *dpoptest.Key) rjwt.Proof {
	return rjwt.Proof{JWT: k.Proof(dpoptest.Params{Method: "POST", URL: loginURL}), Method: "POST", URL: loginURL}
}

// apiProof is a proof for a GET of apiURL with token.
func apiProof(k *dpoptest.Key, token string) rjwt.Proof {
	return rjwt.Proof{JWT: k.Proof(dpoptest.Params{Method: "GET", URL: apiURL, AccessToken: token}), Method: "GET", URL: apiURL}
}

// boundPair signs a pair bound to k.
func boundPair(t *testing.T, c *rjwt.Client, k *dpoptest.Key) rjwt.Pair {
	t.Helper()
	pair, err := c.SignPair(context.Background(), "alice", rjwt.BindProof(loginProof(k)))
	require.NoError(t, err)
	return pair
}

// TestProofBinding: a session signed with BindProof carries cnf.jkt in both
// tokens and in its hash; its access token verifies with a fresh proof by
// that key only, once per proof.
func TestProofBinding(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519"} {
		t.Run(alg, func(t *testing.T) {
			c := newClient(t)
			k := dpopKey(t, alg)
			pair := boundPair(t, c, k)
			for _, tok := range []string{pair.Token, pair.RefreshToken} {
				payload := strings.Split(tok, ".")[1]
				var raw map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(decodeSeg(t, payload), &raw))
				assert.JSONEq(t, `{"jkt":"`+k.JKT+`"}`, string(raw["cnf"]))
			}
			claims, err := c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
			require.NoError(t, err)
			require.NotNil(t, claims.Confirmation)
			assert.Equal(t, k.JKT, claims.Confirmation.JKT)
			j, err := fieldOf(ctx, c.Redis(), prefixOf(t, c), "alice", nanoOf(claims.Session), "j")
			require.NoError(t, err)
			assert.Equal(t, k.JKT, j)

			_, err = c.Verify(ctx, pair.Token)
			onlySentinel(t, err, rjwt.ErrInvalidProof)
			// A plain token is unaffected, and refuses a proof.
			plain, err := c.Sign(ctx, "bob")
			require.NoError(t, err)
			_, err = c.Verify(ctx, plain)
			require.NoError(t, err)
			_, err = c.Verify(ctx, plain, rjwt.WithProof(apiProof(k, plain)))
			onlySentinel(t, err, rjwt.ErrInvalidProof)
		})
	}
}

// TestProofReplay: a proof verifies once; the replay key lives in the
// session's slot, only for the proof window.
func TestProofReplay(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	k := dpopKey(t, "ES256")
	pair := boundPair(t, c, k)
	p := apiProof(k, pair.Token)
	_, err := c.Verify(ctx, pair.Token, rjwt.WithProof(p))
	require.NoError(t, err)
	_, err = c.Verify(ctx, pair.Token, rjwt.WithProof(p))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	assert.Contains(t, err.Error(), "replay")

	keys := keysUnder(t, c.Redis(), prefixOf(t, c)+"{alice}:dpop:")
	require.Len(t, keys, 1)
	ttl, err := c.Redis().PTTL(ctx, keys[0]).Result()
	require.NoError(t, err)
	assert.True(t, ttl > 30*time.Second && ttl <= 2*time.Minute, "replay key TTL %v", ttl)
	// The session lives on: a fresh proof still works.
	_, err = c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
	require.NoError(t, err)
}

// TestProofWrong: every way a proof can be wrong is ErrInvalidProof, and
// none ends the session.
func TestProofWrong(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, rjwt.WithEventBuffer(64))
	k := dpopKey(t, "ES256")
	other := dpopKey(t, "ES256")
	pair := boundPair(t, c, k)
	tok := pair.Token
	good := dpoptest.Params{Method: "GET", URL: apiURL, AccessToken: tok}
	with := func(f func(h, cl map[string]any)) string {
		h, cl := k.Header(), good.Claims()
		f(h, cl)
		return k.Sign(h, cl)
	}
	priv := map[string]any{}
	for n, v := range k.JWK {
		priv[n] = v
	}
	priv["d"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	cases := map[string]string{
		"typ":            with(func(h, _ map[string]any) { h["typ"] = "JWT" }),
		"alg none":       with(func(h, _ map[string]any) { h["alg"] = "none" }),
		"alg HS256":      with(func(h, _ map[string]any) { h["alg"] = "HS256" }),
		"private jwk":    with(func(h, _ map[string]any) { h["jwk"] = priv }),
		"htm":            with(func(_, cl map[string]any) { cl["htm"] = "POST" }),
		"htu":            with(func(_, cl map[string]any) { cl["htu"] = "https://evil.example.com/v1/items" }),
		"htu path":       with(func(_, cl map[string]any) { cl["htu"] = apiURL + "/x" }),
		"iat stale":      with(func(_, cl map[string]any) { cl["iat"] = time.Now().Add(-10 * time.Minute).Unix() }),
		"iat future":     with(func(_, cl map[string]any) { cl["iat"] = time.Now().Add(10 * time.Minute).Unix() }),
		"ath":            with(func(_, cl map[string]any) { cl["ath"] = dpoptest.ATH(tok + "x") }),
		"no ath":         with(func(_, cl map[string]any) { delete(cl, "ath") }),
		"no jti":         with(func(_, cl map[string]any) { delete(cl, "jti") }),
		"other key":      other.Proof(good),
		"garbage":        "not.a.proof",
		"empty":          "",
		"bad signature":  with(func(_, _ map[string]any) {})[:len(with(func(_, _ map[string]any) {}))-4] + "AAAA",
		"login proof":    k.Proof(dpoptest.Params{Method: "POST", URL: loginURL}),
		"other jwk sign": other.Sign(k.Header(), good.Claims()),
	}
	for name, jwt := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.Verify(ctx, tok, rjwt.WithProof(rjwt.Proof{JWT: jwt, Method: "GET", URL: apiURL}))
			onlySentinel(t, err, rjwt.ErrInvalidProof)
		})
	}
	_, err := c.Verify(ctx, tok, rjwt.WithProof(apiProof(k, tok)))
	require.NoError(t, err, "the session must survive bad proofs")
	assert.EqualValues(t, len(cases), c.Stats().Verify.Error)
	n := 0
	for len(c.Events()) > 0 {
		if e := <-c.Events(); e.Type == rjwt.EventInvalidProof {
			n++
		}
	}
	assert.Equal(t, len(cases), n)
}

// TestProofRefresh: a bound session refreshes only with a proof by its
// key; a refusal neither spends the refresh token nor ends the session.
func TestProofRefresh(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, rjwt.WithEventBuffer(16))
	k := dpopKey(t, "Ed25519")
	pair := boundPair(t, c, k)
	refreshProof := func(k *dpoptest.Key) rjwt.Proof {
		return rjwt.Proof{JWT: k.Proof(dpoptest.Params{Method: "POST", URL: loginURL}), Method: "POST", URL: loginURL}
	}
	_, err := c.Refresh(ctx, pair.RefreshToken)
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	_, err = c.Refresh(ctx, pair.RefreshToken, rjwt.WithRefreshProof(refreshProof(dpopKey(t, "Ed25519"))))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	assert.EqualValues(t, 2, c.Stats().Refresh.Error)
	var e rjwt.Event
	for e.Type != rjwt.EventInvalidProof {
		e = <-c.Events()
	}
	assert.Equal(t, rjwt.EventInvalidProof, e.Type)
	assert.NotEmpty(t, e.Session)
	assert.ErrorIs(t, e.Err, rjwt.ErrInvalidProof)
	// Still alive, and the refresh token not spent.
	_, err = c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
	require.NoError(t, err)
	p := refreshProof(k)
	next, err := c.Refresh(ctx, pair.RefreshToken, rjwt.WithRefreshProof(p))
	require.NoError(t, err)
	claims, err := c.Verify(ctx, next.Token, rjwt.WithProof(apiProof(k, next.Token)))
	require.NoError(t, err)
	assert.Equal(t, k.JKT, claims.Confirmation.JKT)
	// A replayed refresh proof is refused, even within the grace.
	_, err = c.Refresh(ctx, pair.RefreshToken, rjwt.WithRefreshProof(p))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	_, err = c.Refresh(ctx, next.RefreshToken, rjwt.WithRefreshProof(refreshProof(k)))
	require.NoError(t, err)
	// An unbound session refuses a proof, and refreshes without one.
	plain, err := c.SignPair(ctx, "bob")
	require.NoError(t, err)
	_, err = c.Refresh(ctx, plain.RefreshToken, rjwt.WithRefreshProof(refreshProof(k)))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	_, err = c.Refresh(ctx, plain.RefreshToken)
	require.NoError(t, err)
}

// TestProofSign: a bad login proof fails Sign before Redis is touched.
func TestProofSign(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	k := dpopKey(t, "ES256")
	bad := loginProof(k)
	bad.Method = "GET"
	_, err := c.Sign(ctx, "alice", rjwt.BindProof(bad))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	_, err = c.SignPair(ctx, "alice", rjwt.BindProof(rjwt.Proof{}))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	assert.Empty(t, keysUnder(t, c.Redis(), prefixOf(t, c)))
	tok, err := c.Sign(ctx, "alice", rjwt.BindProof(loginProof(k)))
	require.NoError(t, err)
	_, err = c.Verify(ctx, tok, rjwt.WithProof(apiProof(k, tok)))
	require.NoError(t, err)
}

// TestProofNonce: Proof.Nonce makes a server nonce required.
func TestProofNonce(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	k := dpopKey(t, "ES256")
	pair := boundPair(t, c, k)
	accept := func(n string) bool { return n == "n-1" }
	p := apiProof(k, pair.Token)
	p.Nonce = accept
	_, err := c.Verify(ctx, pair.Token, rjwt.WithProof(p))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	assert.ErrorIs(t, err, rjwt.ErrUseDPoPNonce)
	p = rjwt.Proof{JWT: k.Proof(dpoptest.Params{Method: "GET", URL: apiURL, AccessToken: pair.Token, Nonce: "n-1"}), Method: "GET", URL: apiURL, Nonce: accept}
	_, err = c.Verify(ctx, pair.Token, rjwt.WithProof(p))
	require.NoError(t, err)
}

// TestProofLocalCache: with the local cache, a cached session still has
// its proofs' jti recorded in Redis: a replay is refused on a cache hit,
// and on another client's cache too.
func TestProofLocalCache(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, rjwt.WithLocalCache(100))
	k := dpopKey(t, "ES256")
	pair := boundPair(t, c, k)
	// Until the cache answers (it trusts a node once tracking is set up).
	require.Eventually(t, func() bool {
		_, err := c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
		require.NoError(t, err)
		return c.CacheStats().Hits > 0
	}, 5*time.Second, 10*time.Millisecond)
	hits := c.CacheStats().Hits
	p := apiProof(k, pair.Token)
	_, err := c.Verify(ctx, pair.Token, rjwt.WithProof(p))
	require.NoError(t, err)
	_, err = c.Verify(ctx, pair.Token, rjwt.WithProof(p))
	onlySentinel(t, err, rjwt.ErrInvalidProof)
	assert.Greater(t, c.CacheStats().Hits, hits, "the replay was refused on a cache hit")
	// Revoked: the cache learns it; a fresh proof does not bring it back.
	claims, err := c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, claims.Session))
	require.Eventually(t, func() bool {
		_, err := c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
	_, err = c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
}

func decodeSeg(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	return b
}

// TestProofAsymmetricTokens: rjwt's EdDSA, ES256 and RS256 tokens carry
// cnf (encoding/json's path) and bind as HS256 tokens do.
func TestProofAsymmetricTokens(t *testing.T) {
	ctx := context.Background()
	for _, a := range asymmetricKeys(t) {
		t.Run(string(a.alg), func(t *testing.T) {
			c := keyedClient(t, "", rjwt.WithSigningKey("k1", a.priv))
			k := dpopKey(t, "Ed25519")
			pair := boundPair(t, c, k)
			claims, err := c.Verify(ctx, pair.Token, rjwt.WithProof(apiProof(k, pair.Token)))
			require.NoError(t, err)
			assert.Equal(t, k.JKT, claims.Confirmation.JKT)
			_, err = c.Verify(ctx, pair.Token)
			onlySentinel(t, err, rjwt.ErrInvalidProof)
			next, err := c.Refresh(ctx, pair.RefreshToken, rjwt.WithRefreshProof(loginProof(k)))
			require.NoError(t, err)
			_, err = c.Verify(ctx, next.Token, rjwt.WithProof(apiProof(k, next.Token)))
			require.NoError(t, err)
		})
	}
}
