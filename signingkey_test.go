package rjwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"github.com/rjwt/rjwt/internal/redistest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

// keyedClient makes a client with the given keys on the package's Redis
// under prefix (a fresh one when empty; prefixOf tells it), so that clients
// with different keys can share sessions.
func keyedClient(t *testing.T, prefix string, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	redistest.Need(t)
	if prefix == "" {
		prefix = "test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":" + rand.Text()[:6] + ":"
	}
	c, err := rjwt.New(append([]rjwt.Option{rjwt.WithAddr(redisAddr), rjwt.WithPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	prefixes.Store(c, prefix)
	t.Cleanup(func() { c.Close(); prefixes.Delete(c) })
	return c
}

type asymmetric struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func asymmetricKeys(t *testing.T) []asymmetric {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return []asymmetric{{jose.EdDSA, ed}, {jose.ES256, ec}, {jose.RS256, rs}}
}

// TestJWKSInteropWithGoJose: go-jose, given nothing but rjwt's JWK Set,
// verifies rjwt's tokens of each public-key algorithm and reads their claims;
// and rjwt verifies tokens that go-jose signs with the same private key.
func TestJWKSInteropWithGoJose(t *testing.T) {
	redistest.Need(t)
	ctx := context.Background()
	others := asymmetricKeys(t)
	for _, k := range asymmetricKeys(t) {
		t.Run(string(k.alg), func(t *testing.T) {
			kid := "kid-" + strings.ToLower(string(k.alg))
			c := keyedClient(t, "", rjwt.WithSigningKey(kid, k.priv))
			token, err := c.Sign(ctx, "alice", rjwt.WithDataToken(map[string]string{"role": "admin"}))
			require.NoError(t, err)
			mine, err := c.Verify(ctx, token)
			require.NoError(t, err)

			raw, err := c.JWKS()
			require.NoError(t, err)
			var set jose.JSONWebKeySet
			require.NoError(t, json.Unmarshal(raw, &set))
			require.Len(t, set.Keys, 1)
			jwk := set.Keys[0]
			assert.True(t, jwk.Valid())
			assert.True(t, jwk.IsPublic())
			assert.Equal(t, kid, jwk.KeyID)
			assert.Equal(t, string(k.alg), jwk.Algorithm)
			assert.Equal(t, "sig", jwk.Use)

			parsed, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{k.alg})
			require.NoError(t, err)
			var std josejwt.Claims
			var own struct {
				ID        string          `json:"id"`
				Session   string          `json:"rjwt"`
				DataToken json.RawMessage `json:"dataToken"`
			}
			require.NoError(t, parsed.Claims(set, &std, &own))
			require.NoError(t, std.ValidateWithLeeway(josejwt.Expected{Time: time.Now()}, 0))
			assert.Equal(t, mine.RegisteredClaims.ID, std.ID)
			assert.Equal(t, mine.Session, own.Session)
			assert.Equal(t, "alice", own.ID)
			assert.JSONEq(t, `{"role":"admin"}`, string(own.DataToken))

			// A JWK Set without the key, or with the kid of another key,
			// does not verify it: go-jose picks the key by kid too.
			for _, o := range others {
				if o.alg == k.alg {
					wrong := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: o.priv.Public(), KeyID: kid, Algorithm: string(k.alg), Use: "sig"}}}
					assert.Error(t, parsed.Claims(wrong, &std))
				}
			}

			// go-jose signs rjwt's claims for the same session with the same
			// key and kid: rjwt verifies it (ES256: in its low-s spelling,
			// TestES256HighSFromAnotherSigner).
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
			require.NoError(t, err)
			payload, err := json.Marshal(mine)
			require.NoError(t, err)
			sig, err := signer.Sign(payload)
			require.NoError(t, err)
			foreign, err := sig.CompactSerialize()
			require.NoError(t, err)
			if k.alg == jose.ES256 {
				foreign = lowSOf(t, foreign) // go-jose's s is random; rjwt takes a low s only
			}
			got, err := c.Verify(ctx, foreign)
			require.NoError(t, err)
			assert.Equal(t, mine.Session, got.Session)
		})
	}
}

// TestHS256InteropWithGoJose: HS256 keys are never in the JWK Set; a JOSE
// library holding the shared secret verifies rjwt's tokens all the same.
func TestHS256InteropWithGoJose(t *testing.T) {
	redistest.Need(t)
	c := keyedClient(t, "", rjwt.WithSigningKey("hs", testSecret))
	token, err := c.Sign(context.Background(), "alice")
	require.NoError(t, err)
	raw, err := c.JWKS()
	require.NoError(t, err)
	assert.JSONEq(t, `{"keys":[]}`, string(raw))
	parsed, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.HS256})
	require.NoError(t, err)
	var std josejwt.Claims
	require.NoError(t, parsed.Claims(testSecret, &std))
	require.Equal(t, "hs", parsed.Headers[0].KeyID)
}

// TestVerifierOnlyClientCannotSign: a client with only a public key verifies
// the issuer's tokens against the shared sessions, but Sign, SignPair and
// Refresh fail with ErrNoSigningKey and change nothing in Redis (a refresh
// token it was given still works at the issuer).
func TestVerifierOnlyClientCannotSign(t *testing.T) {
	redistest.Need(t)
	ctx := context.Background()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	issuer := keyedClient(t, "", rjwt.WithSigningKey("ed", priv))
	verifier := keyedClient(t, prefixOf(t, issuer), rjwt.WithVerificationKey("ed", priv.Public()))

	pair, err := issuer.SignPair(ctx, "carol")
	require.NoError(t, err)
	_, err = verifier.Verify(ctx, pair.Token)
	require.NoError(t, err)
	before := keysUnder(t, issuer.Redis(), prefixOf(t, issuer))

	_, err = verifier.Sign(ctx, "carol")
	onlySentinel(t, err, rjwt.ErrNoSigningKey)
	_, err = verifier.SignPair(ctx, "carol")
	onlySentinel(t, err, rjwt.ErrNoSigningKey)
	_, err = verifier.Refresh(ctx, pair.RefreshToken)
	onlySentinel(t, err, rjwt.ErrNoSigningKey)
	assert.ElementsMatch(t, before, keysUnder(t, issuer.Redis(), prefixOf(t, issuer)))

	next, err := issuer.Refresh(ctx, pair.RefreshToken)
	require.NoError(t, err, "the verifier spent the refresh token")
	_, err = verifier.Verify(ctx, next.Token)
	require.NoError(t, err)
}
