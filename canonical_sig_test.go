package rjwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"github.com/rjwt/rjwt/internal/redistest"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

var (
	p256N    = elliptic.P256().Params().N
	p256Half = new(big.Int).Rsh(p256N, 1)
)

// withSig replaces the signature of a compact JWS.
func withSig(token string, sig []byte) string {
	return token[:strings.LastIndexByte(token, '.')+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// sigOf is the decoded signature of a compact JWS.
func sigOf(t *testing.T, token string) []byte {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(token[strings.LastIndexByte(token, '.')+1:])
	require.NoError(t, err)
	return sig
}

// es256Twin is the other spelling of an ES256 signature: s → n−s.
func es256Twin(t *testing.T, token string) string {
	t.Helper()
	sig := sigOf(t, token)
	require.Len(t, sig, 64)
	s := new(big.Int).SetBytes(sig[32:])
	twin := append([]byte(nil), sig...)
	new(big.Int).Sub(p256N, s).FillBytes(twin[32:])
	return withSig(token, twin)
}

// TestES256Twins: rjwt signs ES256 with a low s only, and Verify and
// Refresh refuse each token's twin (s → n−s, which crypto/ecdsa accepts) as
// ErrInvalidToken, without harm to the session: the token itself still
// verifies and refreshes afterwards.
func TestES256Twins(t *testing.T) {
	redistest.Need(t)
	ctx := context.Background()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := keyedClient(t, "", rjwt.WithSigningKey("es", ec))
	for i := 0; i < 5; i++ {
		pair, err := c.SignPair(ctx, "alice")
		require.NoError(t, err)
		for _, tok := range []string{pair.Token, pair.RefreshToken} {
			s := new(big.Int).SetBytes(sigOf(t, tok)[32:])
			assert.True(t, s.Cmp(p256Half) <= 0, "rjwt signed a high s")
			// The twin is a valid ECDSA signature: only rjwt's rule refuses it.
			assert.True(t, ecdsa.VerifyASN1(&ec.PublicKey, digest(tok), asn1Of(t, es256Twin(t, tok))))
		}
		_, err = c.Verify(ctx, es256Twin(t, pair.Token))
		require.ErrorIs(t, err, rjwt.ErrInvalidToken)
		assert.Contains(t, err.Error(), "high s")
		_, err = c.Refresh(ctx, es256Twin(t, pair.RefreshToken))
		require.ErrorIs(t, err, rjwt.ErrInvalidToken)

		_, err = c.Verify(ctx, pair.Token)
		require.NoError(t, err)
		next, err := c.Refresh(ctx, pair.RefreshToken)
		require.NoError(t, err)
		_, err = c.Verify(ctx, es256Twin(t, next.Token))
		require.ErrorIs(t, err, rjwt.ErrInvalidToken)
	}
}

// TestES256HighSFromAnotherSigner: a token signed elsewhere (go-jose, whose
// ECDSA s is random) verifies in its low-s spelling only.
func TestES256HighSFromAnotherSigner(t *testing.T) {
	redistest.Need(t)
	ctx := context.Background()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := keyedClient(t, "", rjwt.WithSigningKey("es", ec))
	mine, err := c.Sign(ctx, "alice")
	require.NoError(t, err)
	claims, err := c.Verify(ctx, mine)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: ec, KeyID: "es"}}, (&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	payload, err := claims.MarshalJSON()
	require.NoError(t, err)
	for high := false; !high; {
		jws, err := signer.Sign(payload)
		require.NoError(t, err)
		foreign, err := jws.CompactSerialize()
		require.NoError(t, err)
		high = new(big.Int).SetBytes(sigOf(t, foreign)[32:]).Cmp(p256Half) > 0
		low := foreign
		if high {
			low = es256Twin(t, foreign)
			_, err = c.Verify(ctx, foreign)
			require.ErrorIs(t, err, rjwt.ErrInvalidToken)
		}
		_, err = c.Verify(ctx, low)
		require.NoError(t, err)
	}
}

// TestRS256OneSpelling: a PKCS #1 v1.5 signature has one spelling: the
// same number with a leading zero byte is refused (length), and so is
// sig + n, the same value modulo n, in the modulus's size.
func TestRS256OneSpelling(t *testing.T) {
	redistest.Need(t)
	ctx := context.Background()
	// A modulus well below 2^2048 so that sig + n often fits in 256 bytes.
	var rs *rsa.PrivateKey
	for rs == nil || rs.N.Bytes()[0] >= 0xc0 {
		var err error
		rs, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
	}
	c := keyedClient(t, "", rjwt.WithSigningKey("rs", rs))
	tok, err := c.Sign(ctx, "alice")
	require.NoError(t, err)
	_, err = c.Verify(ctx, withSig(tok, append([]byte{0}, sigOf(t, tok)...)))
	require.ErrorIs(t, err, rjwt.ErrInvalidToken)

	for tried := 0; ; tried++ {
		require.Less(t, tried, 100, "no signature s with s + n < 2^2048")
		tok, err := c.Sign(ctx, "alice")
		require.NoError(t, err)
		sum := new(big.Int).Add(new(big.Int).SetBytes(sigOf(t, tok)), rs.N)
		if sum.BitLen() > 2048 {
			continue
		}
		_, err = c.Verify(ctx, withSig(tok, sum.FillBytes(make([]byte, 256))))
		require.ErrorIs(t, err, rjwt.ErrInvalidToken)
		_, err = c.Verify(ctx, tok)
		require.NoError(t, err)
		return
	}
}

// ed25519L is the order of Ed25519's base point, 2^252 + 27742317777372353535851937790883648493.
var ed25519L, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// TestEdDSAOneSpelling: crypto/ed25519 refuses s + L (the same scalar
// modulo L, which a lax verifier accepts), so Verify does too.
func TestEdDSAOneSpelling(t *testing.T) {
	redistest.Need(t)
	ctx := context.Background()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	c := keyedClient(t, "", rjwt.WithSigningKey("ed", ed))
	tok, err := c.Sign(ctx, "alice")
	require.NoError(t, err)
	sig := sigOf(t, tok)
	twin := append([]byte(nil), sig[:32]...)
	twin = append(twin, leAdd(sig[32:], ed25519L)...)
	assert.False(t, ed25519.Verify(ed.Public().(ed25519.PublicKey), []byte(tok[:strings.LastIndexByte(tok, '.')]), twin))
	_, err = c.Verify(ctx, withSig(tok, twin))
	require.ErrorIs(t, err, rjwt.ErrInvalidToken)
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)
}

// leAdd adds n to the 32-byte little-endian number s.
func leAdd(s []byte, n *big.Int) []byte {
	be := make([]byte, 32)
	for i := range s {
		be[31-i] = s[i]
	}
	sum := new(big.Int).Add(new(big.Int).SetBytes(be), n).FillBytes(make([]byte, 32))
	out := make([]byte, 32)
	for i := range sum {
		out[31-i] = sum[i]
	}
	return out
}

func digest(token string) []byte {
	d := sha256.Sum256([]byte(token[:strings.LastIndexByte(token, '.')]))
	return d[:]
}

// asn1Of is the DER form of a token's ES256 signature (r || s).
func asn1Of(t *testing.T, token string) []byte {
	sig := sigOf(t, token)
	der := func(b []byte) []byte {
		b = new(big.Int).SetBytes(b).Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{2, byte(len(b))}, b...)
	}
	body := append(der(sig[:32]), der(sig[32:])...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// lowSOf is an ES256 token in its low-s spelling, the one rjwt accepts.
func lowSOf(t *testing.T, token string) string {
	t.Helper()
	if new(big.Int).SetBytes(sigOf(t, token)[32:]).Cmp(p256Half) > 0 {
		return es256Twin(t, token)
	}
	return token
}
