package rjwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
)

type jwkSet struct {
	Keys []map[string]string `json:"keys"`
}

func decodeJWKS(t *testing.T, c *Client) jwkSet {
	t.Helper()
	b, err := c.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jwkSet
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return set
}

func b64int(t *testing.T, s string) *big.Int {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return new(big.Int).SetBytes(b)
}

// TestJWKSHoldsPublicKeysOnly: the signing key's public half first, then the
// public verification keys in order; every HMAC secret is left out.
func TestJWKSHoldsPublicKeysOnly(t *testing.T) {
	k := keysForTest(t)
	c := keyClient(t,
		WithSigningKey("ec", k.ec),
		WithVerificationKey("old-hmac", k.hs),
		WithVerificationKey("ed", k.ed.Public()),
		WithVerificationKey("rsa", &k.rsa.PublicKey),
		WithVerificationKey("", k.ed2.Public()),
	)
	raw, err := c.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range [][]byte{k.hs, []byte(base64.RawURLEncoding.EncodeToString(k.hs)), []byte(base64.StdEncoding.EncodeToString(k.hs)), []byte(`"oct"`), []byte(`"k"`), []byte(`"d"`)} {
		if bytes.Contains(raw, leak) {
			t.Fatalf("JWKS holds %q: %s", leak, raw)
		}
	}
	set := decodeJWKS(t, c)
	if len(set.Keys) != 4 {
		t.Fatalf("%d keys, want 4: %s", len(set.Keys), raw)
	}
	ecPoint, _ := k.ec.PublicKey.Bytes()
	want := []map[string]string{
		{"kty": "EC", "use": "sig", "alg": "ES256", "kid": "ec", "crv": "P-256",
			"x": base64.RawURLEncoding.EncodeToString(ecPoint[1:33]), "y": base64.RawURLEncoding.EncodeToString(ecPoint[33:])},
		{"kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": "ed", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(k.ed[32:])},
		{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "rsa",
			"n": base64.RawURLEncoding.EncodeToString(k.rsa.N.Bytes()), "e": "AQAB"},
		{"kty": "OKP", "use": "sig", "alg": "EdDSA", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(k.ed2[32:])},
	}
	for i := range want {
		if !mapsEqualStrings(set.Keys[i], want[i]) {
			t.Errorf("key %d:\n got %v\nwant %v", i, set.Keys[i], want[i])
		}
	}
	if n := b64int(t, set.Keys[2]["n"]); n.Cmp(k.rsa.N) != 0 {
		t.Errorf("n does not decode to the modulus")
	}

	only := keyClient(t, WithSecret(k.hs), WithVerificationKey("x", k.hs2))
	if b, _ := only.JWKS(); string(b) != `{"keys":[]}` {
		t.Errorf("HS256-only client: %s", b)
	}
}

func mapsEqualStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestJWKSPadsECCoordinates: an EC coordinate is always the curve's full 32
// bytes (RFC 7518 §6.2.1.2), also when its value has leading zero bytes.
func TestJWKSPadsECCoordinates(t *testing.T) {
	var key *ecdsa.PrivateKey
	for i := 0; i < 5000 && key == nil; i++ { // about 1 in 128 keys
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := k.PublicKey.Bytes(); p[1] == 0 || p[33] == 0 {
			key = k
		}
	}
	if key == nil {
		t.Fatal("no key with a short coordinate found")
	}
	set := decodeJWKS(t, keyClient(t, WithVerificationKey("p", &key.PublicKey)))
	p, _ := key.PublicKey.Bytes()
	for name, want := range map[string][]byte{"x": p[1:33], "y": p[33:]} {
		got, err := base64.RawURLEncoding.DecodeString(set.Keys[0][name])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s = %x, want %x (32 bytes)", name, got, want)
		}
	}
}
