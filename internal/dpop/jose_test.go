package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt/internal/dpop"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
)

// joseProof is a proof of params() signed by go-jose with priv, the public
// key embedded as the header's jwk.
func joseProof(t testing.TB, alg jose.SignatureAlgorithm, priv crypto.Signer) string {
	t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: priv}, opts)
	require.NoError(t, err)
	payload, err := json.Marshal(params().Claims())
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	proof, err := jws.CompactSerialize()
	require.NoError(t, err)
	return proof
}

// TestGoJoseProofs: proofs go-jose makes, of every algorithm the checker
// supports, pass, with the thumbprint go-jose computes for the key.
func TestGoJoseProofs(t *testing.T) {
	ec256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, c := range []struct {
		alg  jose.SignatureAlgorithm
		priv crypto.Signer
	}{{jose.ES256, ec256}, {jose.ES384, ec384}, {jose.EdDSA, ed}, {jose.RS256, rs}, {jose.PS256, rs}} {
		want, err := (&jose.JSONWebKey{Key: c.priv.Public()}).Thumbprint(crypto.SHA256)
		require.NoError(t, err)
		for i := 0; i < 4; i++ {
			res, err := checker().Check(joseProof(t, c.alg, c.priv), request())
			require.NoError(t, err, c.alg)
			assert.Equal(t, b64raw(want), res.JKT, c.alg)
			assert.Equal(t, string(c.alg), res.Alg)
		}
	}
	// An RSA key under 2048 bits is refused.
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	_, err = checker().Check(joseProof(t, jose.RS256, small), request())
	require.ErrorIs(t, err, dpop.ErrInvalid)
}

func b64raw(b []byte) string { return b64(string(b)) }

// TestGoJoseVerifiesOurProofs: go-jose verifies the test maker's proofs
// with the key they embed and reads the same claims.
func TestGoJoseVerifiesOurProofs(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		k := newKey(t, alg)
		proof := k.Proof(params())
		jws, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
		require.NoError(t, err)
		h := jws.Signatures[0].Protected
		require.NotNil(t, h.JSONWebKey)
		assert.True(t, h.JSONWebKey.IsPublic())
		assert.Equal(t, "dpop+jwt", h.ExtraHeaders["typ"])
		payload, err := jws.Verify(h.JSONWebKey)
		require.NoError(t, err)
		var claims map[string]any
		require.NoError(t, json.Unmarshal(payload, &claims))
		assert.Equal(t, dpoptest.ATH(testToken), claims["ath"])
		tp, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
		require.NoError(t, err)
		assert.Equal(t, k.JKT, b64raw(tp))
	}
}

// BenchmarkCheck is one proof check (parse, key, claims, signature).
func BenchmarkCheck(b *testing.B) {
	for _, alg := range []string{"ES256", "Ed25519"} {
		b.Run(alg, func(b *testing.B) {
			k := newKey(b, alg)
			proof := k.Proof(params())
			c, r := checker(), request()
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, err := c.Check(proof, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGoJose is go-jose's ParseSigned and Verify with the embedded
// key, for the same proof: the signature check alone, without any of
// Check's other checks.
func BenchmarkGoJose(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			proof := newKey(b, alg).Proof(params())
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				jws, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(jws.Signatures[0].Protected.JSONWebKey); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cpuPerOp reports the process's CPU time (user and system, every thread:
// GC included) per op as cpu-µs/op, which a loaded machine inflates less
// than ns/op: call it before the loop and defer what it returns.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
