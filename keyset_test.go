package rjwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// testKeys are one key pair per algorithm, made once per test binary (an
// RSA-2048 key takes a while to generate).
type testKeys struct {
	hs, hs2   []byte
	ed, ed2   ed25519.PrivateKey
	ec, ec2   *ecdsa.PrivateKey
	rsa, rsa2 *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
)

func keysForTest(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		k := &keysVal
		k.hs = []byte("hs256-key-of-32-random-bytes-!!!")
		k.hs2 = []byte("another-hs256-key-of-32-bytes!!!")
		_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
		_, k.ed2, _ = ed25519.GenerateKey(rand.Reader)
		if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keysVal
}

// algCase is one algorithm: its signing key, the public key that verifies it.
type algCase struct {
	alg           string
	method        jwt.SigningMethod
	priv, pub     any
	otherPriv     any // another key of the same algorithm
	deterministic bool
}

func algCases(t testing.TB) []algCase {
	k := keysForTest(t)
	return []algCase{
		{"HS256", jwt.SigningMethodHS256, k.hs, k.hs, k.hs2, true},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed, k.ed.Public(), k.ed2, true},
		{"ES256", jwt.SigningMethodES256, k.ec, &k.ec.PublicKey, k.ec2, false},
		{"RS256", jwt.SigningMethodRS256, k.rsa, &k.rsa.PublicKey, k.rsa2, true},
	}
}

func keyClient(t testing.TB, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithAddr("127.0.0.1:1")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// golangJWT signs claims with golang-jwt, kid in the header when not empty.
func golangJWT(t testing.TB, m jwt.SigningMethod, kid string, claims jwt.Claims, k any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	if m == jwt.SigningMethodES256 {
		s = lowSToken(s) // golang-jwt's s is random; rjwt takes a low s only
	}
	return s
}

func header(t testing.TB, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestEachAlgorithmSignsAndVerifies: each key type signs tokens of its
// algorithm with its kid in the header, which the signing client and a
// client holding only the public key both verify; golang-jwt makes the same
// bytes (the same signature where the algorithm is deterministic).
func TestEachAlgorithmSignsAndVerifies(t *testing.T) {
	for _, ac := range algCases(t) {
		for _, kid := range []string{"", "key-2025"} {
			t.Run(ac.alg+"/kid="+kid, func(t *testing.T) {
				signer := keyClient(t, WithSigningKey(kid, ac.priv))
				claims := testClaims()
				tok, err := signer.signToken(claims)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"alg": ac.alg, "typ": "JWT"}
				if kid != "" {
					want["kid"] = kid
				}
				if h := header(t, tok); !mapsEqual(h, want) {
					t.Fatalf("header %v, want %v", h, want)
				}
				ref := golangJWT(t, ac.method, kid, claims, ac.priv)
				if ac.deterministic && tok != ref {
					t.Fatalf("signToken differs from golang-jwt:\n%s\n%s", tok, ref)
				}
				if i := strings.LastIndexByte(tok, '.'); tok[:i] != ref[:strings.LastIndexByte(ref, '.')] {
					t.Fatalf("signed part differs from golang-jwt's")
				}
				if _, err := signer.parse(tok); err != nil {
					t.Fatalf("the signing client refuses its token: %v", err)
				}
				if _, err := signer.parse(ref); err != nil {
					t.Fatalf("the signing client refuses golang-jwt's token: %v", err)
				}
				if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return ac.pub, nil }, jwt.WithValidMethods([]string{ac.alg})); err != nil {
					t.Fatalf("golang-jwt refuses the token: %v", err)
				}
				if (signer.fastKey(tok) != nil) != (ac.alg == "HS256") {
					t.Fatalf("fast path taken: %v", signer.fastKey(tok) != nil)
				}

				verifier := keyClient(t, WithVerificationKey(kid, ac.pub))
				if _, err := verifier.parse(tok); err != nil {
					t.Fatalf("the verifier refuses the token: %v", err)
				}
				if _, err := verifier.signToken(claims); !errors.Is(err, ErrNoSigningKey) {
					t.Fatalf("a verifier signed: %v", err)
				}
				other := keyClient(t, WithVerificationKey(kid, publicOf(ac.otherPriv)))
				if _, err := other.parse(tok); !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("another key of the same algorithm and kid: %v", err)
				}
			})
		}
	}
}

func publicOf(k any) any {
	switch k := k.(type) {
	case []byte:
		return k
	case ed25519.PrivateKey:
		return k.Public()
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case *rsa.PrivateKey:
		return &k.PublicKey
	}
	panic("no public key")
}

func mapsEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestTokenAlgMustBeItsKeys: a token whose alg is not its key's is refused,
// even when it is correctly signed for that alg with a key of the same kid.
func TestTokenAlgMustBeItsKeys(t *testing.T) {
	k := keysForTest(t)
	c := keyClient(t,
		WithSigningKey("hs", k.hs),
		WithVerificationKey("ed", k.ed.Public()),
		WithVerificationKey("ec", &k.ec.PublicKey),
		WithVerificationKey("rsa", &k.rsa.PublicKey),
	)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	claims := testClaims()
	tests := map[string]string{
		"HS384 under an HS256 kid":   golangJWT(t, jwt.SigningMethodHS384, "hs", claims, k.hs),
		"HS512 under an HS256 kid":   golangJWT(t, jwt.SigningMethodHS512, "hs", claims, k.hs),
		"HS256 under an EdDSA kid":   golangJWT(t, jwt.SigningMethodHS256, "ed", claims, k.hs),
		"EdDSA under an HS256 kid":   golangJWT(t, jwt.SigningMethodEdDSA, "hs", claims, k.ed),
		"ES384 under an ES256 kid":   golangJWT(t, jwt.SigningMethodES384, "ec", claims, p384),
		"PS256 under an RS256 kid":   golangJWT(t, jwt.SigningMethodPS256, "rsa", claims, k.rsa),
		"RS512 under an RS256 kid":   golangJWT(t, jwt.SigningMethodRS512, "rsa", claims, k.rsa),
		"RS256 under an ES256 kid":   golangJWT(t, jwt.SigningMethodRS256, "ec", claims, k.rsa),
		"none under an HS256 kid":    golangJWT(t, jwt.SigningMethodNone, "hs", claims, jwt.UnsafeAllowNoneSignatureType),
		"ES256 key, RS256 kid":       golangJWT(t, jwt.SigningMethodES256, "rsa", claims, k.ec),
		"EdDSA signed by the ES kid": golangJWT(t, jwt.SigningMethodEdDSA, "ec", claims, k.ed),
	}
	for name, tok := range tests {
		_, err := c.parse(tok)
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
		if refErr := referenceParse(c, tok); !sameOutcome(err, refErr) {
			t.Errorf("%s: parse %v, reference %v", name, err, refErr)
		}
	}
	// Each kid with its own alg verifies: the refusals above are the alg's.
	for kid, tok := range map[string]string{
		"hs":  golangJWT(t, jwt.SigningMethodHS256, "hs", claims, k.hs),
		"ed":  golangJWT(t, jwt.SigningMethodEdDSA, "ed", claims, k.ed),
		"ec":  golangJWT(t, jwt.SigningMethodES256, "ec", claims, k.ec),
		"rsa": golangJWT(t, jwt.SigningMethodRS256, "rsa", claims, k.rsa),
	} {
		if _, err := c.parse(tok); err != nil {
			t.Errorf("kid %s with its own alg: %v", kid, err)
		}
	}
}

// TestKidSelectsTheKey: Verify uses the key the header's kid names and no
// other: an unknown kid, another key's kid, a missing kid when every key has
// one, or a kid that is not a string are refused.
func TestKidSelectsTheKey(t *testing.T) {
	k := keysForTest(t)
	c := keyClient(t, WithSigningKey("new", k.hs), WithVerificationKey("old", k.hs2), WithVerificationKey("ed", k.ed.Public()), WithVerificationKey("ed2", k.ed2.Public()))
	claims := testClaims()
	good := map[string]string{
		"signing key":      golangJWT(t, jwt.SigningMethodHS256, "new", claims, k.hs),
		"retired HS256":    golangJWT(t, jwt.SigningMethodHS256, "old", claims, k.hs2),
		"first Ed25519":    golangJWT(t, jwt.SigningMethodEdDSA, "ed", claims, k.ed),
		"second Ed25519":   golangJWT(t, jwt.SigningMethodEdDSA, "ed2", claims, k.ed2),
		"signToken output": must(c.signToken(claims)),
	}
	for name, tok := range good {
		if _, err := c.parse(tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if c.fastKey(good["retired HS256"]) == nil || c.fastKey(good["signing key"]) == nil {
		t.Errorf("an HS256 token in rjwt's own header missed the fast path")
	}
	bad := map[string]string{
		"unknown kid":                 golangJWT(t, jwt.SigningMethodHS256, "nope", claims, k.hs),
		"no kid":                      golangJWT(t, jwt.SigningMethodHS256, "", claims, k.hs),
		"empty kid":                   signHeader(t, `{"alg":"HS256","kid":"","typ":"JWT"}`, claims, k.hs),
		"HS256 key under the old kid": golangJWT(t, jwt.SigningMethodHS256, "old", claims, k.hs),
		"old key under the new kid":   golangJWT(t, jwt.SigningMethodHS256, "new", claims, k.hs2),
		"ed key under ed2's kid":      golangJWT(t, jwt.SigningMethodEdDSA, "ed2", claims, k.ed),
		"kid a number":                signHeader(t, `{"alg":"HS256","kid":1,"typ":"JWT"}`, claims, k.hs),
		"kid null":                    signHeader(t, `{"alg":"HS256","kid":null,"typ":"JWT"}`, claims, k.hs),
		"kid an array":                signHeader(t, `{"alg":"HS256","kid":["new"],"typ":"JWT"}`, claims, k.hs),
		"crit with kid":               signHeader(t, `{"alg":"HS256","crit":["kid"],"kid":"new","typ":"JWT"}`, claims, k.hs),
	}
	for name, tok := range bad {
		_, err := c.parse(tok)
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
		if refErr := referenceParse(c, tok); !sameOutcome(err, refErr) {
			t.Errorf("%s: parse %v, reference %v", name, err, refErr)
		}
	}
	// A client with a key without kid takes tokens without kid to it.
	plain := keyClient(t, WithSecret(k.hs), WithVerificationKey("ed", k.ed.Public()))
	if _, err := plain.parse(bad["no kid"]); err != nil {
		t.Errorf("no kid, client with a kid-less key: %v", err)
	}
	if _, err := plain.parse(bad["unknown kid"]); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("an unknown kid went to the kid-less key: %v", err)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// signHeader signs claims under a raw header JSON with method HS256 or
// EdDSA, chosen by the key's type.
func signHeader(t testing.TB, h string, claims *Claims, k any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed := base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	var m jwt.SigningMethod = jwt.SigningMethodHS256
	if _, ok := k.(ed25519.PrivateKey); ok {
		m = jwt.SigningMethodEdDSA
	}
	sig, err := m.Sign(signed, k)
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestPublicKeyIsNoHMACSecret is the algorithm-confusion attack: the
// attacker knows the public key (from JWKS) and signs HS256 tokens with its
// bytes as the HMAC secret, in every encoding a naive verifier might use.
// None verifies, with the kid of the public key or without a kid.
func TestPublicKeyIsNoHMACSecret(t *testing.T) {
	k := keysForTest(t)
	rsaPKIX, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	edPKIX, _ := x509.MarshalPKIXPublicKey(k.ed.Public())
	ecPKIX, _ := x509.MarshalPKIXPublicKey(&k.ec.PublicKey)
	ecRaw, _ := k.ec.PublicKey.Bytes()
	secrets := map[string]struct {
		pub    any
		secret []byte
	}{
		"RSA PEM":     {&k.rsa.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPKIX})},
		"RSA PKCS1":   {&k.rsa.PublicKey, x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)},
		"RSA PKIX":    {&k.rsa.PublicKey, rsaPKIX},
		"RSA modulus": {&k.rsa.PublicKey, k.rsa.N.Bytes()},
		"Ed25519 raw": {k.ed.Public(), []byte(k.ed.Public().(ed25519.PublicKey))},
		"Ed25519 PEM": {k.ed.Public(), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edPKIX})},
		"P-256 point": {&k.ec.PublicKey, ecRaw},
		"P-256 PEM":   {&k.ec.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPKIX})},
	}
	claims := testClaims()
	for name, s := range secrets {
		for _, kid := range []string{"", "pub"} {
			c := keyClient(t, WithVerificationKey(kid, s.pub))
			forged := golangJWT(t, jwt.SigningMethodHS256, kid, claims, s.secret)
			_, err := c.parse(forged)
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("%s as an HS256 secret, kid %q: %v", name, kid, err)
			}
			if refErr := referenceParse(c, forged); !sameOutcome(err, refErr) {
				t.Errorf("%s: parse %v, reference %v", name, err, refErr)
			}
		}
	}
}

// TestNewRefusesBadKeys: a key of an unsupported type or size, two signing
// keys, two keys with one kid, a kid that JSON would alter, or no key at all.
func TestNewRefusesBadKeys(t *testing.T) {
	k := keysForTest(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	tests := map[string][]Option{
		"no key":                       nil,
		"31-byte HS256 signing key":    {WithSigningKey("k", k.hs[:31])},
		"31-byte HS256 verification":   {WithVerificationKey("k", k.hs[:31])},
		"P-384 signing key":            {WithSigningKey("k", p384)},
		"P-384 verification key":       {WithVerificationKey("k", &p384.PublicKey)},
		"point off the curve":          {WithVerificationKey("k", offCurve)},
		"RSA-1024 signing key":         {WithSigningKey("k", small)},
		"RSA-1024 verification key":    {WithVerificationKey("k", &small.PublicKey)},
		"public key to sign":           {WithSigningKey("k", k.ed.Public())},
		"private key to verify":        {WithVerificationKey("k", k.ed)},
		"ecdsa value, not pointer":     {WithSigningKey("k", *k.ec)},
		"string secret":                {WithSigningKey("k", string(k.hs))},
		"nil key":                      {WithSigningKey("k", nil)},
		"nil *rsa.PublicKey":           {WithVerificationKey("k", (*rsa.PublicKey)(nil))},
		"short Ed25519 public key":     {WithVerificationKey("k", k.ed.Public().(ed25519.PublicKey)[:31])},
		"two signing keys":             {WithSigningKey("a", k.hs), WithSigningKey("b", k.ed)},
		"WithSecret and a signing key": {WithSecret(k.hs), WithSigningKey("b", k.ed)},
		"duplicate kid":                {WithSigningKey("a", k.hs), WithVerificationKey("a", k.hs2)},
		"duplicate empty kid":          {WithSecret(k.hs), WithVerificationKey("", k.hs2)},
		"kid not UTF-8":                {WithSigningKey("\xff", k.hs)},
	}
	for name, opts := range tests {
		c, err := New(append([]Option{WithAddr("127.0.0.1:1")}, opts...)...)
		if err == nil {
			c.Close()
			t.Errorf("%s: New succeeded", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "rjwt: ") {
			t.Errorf("%s: %q does not say rjwt", name, err)
		}
	}
}

// TestVerifierOnlyClient verifies but cannot sign.
func TestVerifierOnlyClient(t *testing.T) {
	k := keysForTest(t)
	signer := keyClient(t, WithSigningKey("ed", k.ed))
	verifier := keyClient(t, WithVerificationKey("ed", k.ed.Public()))
	tok := must(signer.signToken(testClaims()))
	if _, err := verifier.parse(tok); err != nil {
		t.Fatal(err)
	}
	_, err := verifier.signToken(testClaims())
	if !errors.Is(err, ErrNoSigningKey) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("signToken on a verifier: %v", err)
	}
}

// BenchmarkParseKeys is Verify's token checks alone (no Redis) for each
// algorithm, with a kid in the header; HS256 takes the fast path.
func BenchmarkParseKeys(b *testing.B) {
	for _, ac := range algCases(b) {
		b.Run(ac.alg, func(b *testing.B) {
			c := keyClient(b, WithSigningKey("k1", ac.priv))
			tok := must(c.signToken(testClaims()))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
