package dpop_test

import (
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt/internal/dpop"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
)

const (
	testURL   = "https://api.example.com/v1/items"
	testToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
)

var epoch = time.Unix(1_800_000_000, 0)

// checker is a Checker whose clock stands at epoch.
func checker() *dpop.Checker {
	return &dpop.Checker{Now: func() time.Time { return epoch }}
}

func newKey(t testing.TB, alg string) *dpoptest.Key {
	t.Helper()
	k, err := dpoptest.NewKey(alg)
	require.NoError(t, err)
	return k
}

func params() dpoptest.Params {
	return dpoptest.Params{Method: "GET", URL: testURL, AccessToken: testToken, JTI: "jti-1", IssuedAt: epoch}
}

func request() dpop.Request {
	return dpop.Request{Method: "GET", URL: testURL, AccessToken: testToken}
}

// TestValidProofs: a well-formed proof of each algorithm passes, and Check
// returns its key's thumbprint (computed independently by dpoptest), jti
// and iat.
func TestValidProofs(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519"} {
		t.Run(alg, func(t *testing.T) {
			k := newKey(t, alg)
			for i := 0; i < 8; i++ { // ES256: high and low s alike
				res, err := checker().Check(k.Proof(params()), request())
				require.NoError(t, err)
				assert.Equal(t, dpop.Result{JKT: k.JKT, JTI: "jti-1", IssuedAt: epoch, Alg: alg}, res)
			}
			r := request()
			r.JKT = k.JKT
			_, err := checker().Check(k.Proof(params()), r)
			require.NoError(t, err)
		})
	}
}

// TestThumbprintRFC7638 checks the thumbprint against RFC 7638 §3.1's
// example (an RSA key) and RFC 8037 Appendix A.3's (Ed25519).
func TestThumbprintRFC7638(t *testing.T) {
	for _, c := range []struct{ jwk, want string }{
		{`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`,
			"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
			"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	} {
		got, err := dpop.Thumbprint([]byte(c.jwk))
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
	}
	_, err := dpop.Thumbprint([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`))
	assert.ErrorIs(t, err, dpop.ErrInvalid)
}

// b64 of a JSON text, for hand-made segments.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestWrongProofs: each way a proof can be wrong is ErrInvalid, with a
// message naming it.
func TestWrongProofs(t *testing.T) {
	k := newKey(t, "ES256")
	ed := newKey(t, "EdDSA")
	other := newKey(t, "ES256")
	hdr := func(edit func(h map[string]any)) map[string]any {
		h := k.Header()
		jwk := map[string]any{}
		for n, v := range k.JWK {
			jwk[n] = v
		}
		h["jwk"] = jwk
		edit(h)
		return h
	}
	claims := func(edit func(c map[string]any)) map[string]any {
		c := params().Claims()
		edit(c)
		return c
	}
	good := k.Proof(params())
	parts := strings.Split(good, ".")
	x, y := k.JWK["x"].(string), k.JWK["y"].(string)
	cases := []struct{ name, proof, msg string }{
		{"no typ", k.Sign(hdr(func(h map[string]any) { delete(h, "typ") }), params().Claims()), "typ"},
		{"typ JWT", k.Sign(hdr(func(h map[string]any) { h["typ"] = "JWT" }), params().Claims()), "typ"},
		{"alg none", b64(`{"typ":"dpop+jwt","alg":"none","jwk":{}}`) + "." + parts[1] + ".", "alg"},
		{"alg HS256", k.Sign(hdr(func(h map[string]any) { h["alg"] = "HS256" }), params().Claims()), "alg"},
		{"alg ES256K", k.Sign(hdr(func(h map[string]any) { h["alg"] = "ES256K" }), params().Claims()), "alg"},
		{"ES384 with a P-256 key", k.Sign(hdr(func(h map[string]any) { h["alg"] = "ES384" }), params().Claims()), "cannot sign"},
		{"EdDSA with an EC key", k.Sign(hdr(func(h map[string]any) { h["alg"] = "EdDSA" }), params().Claims()), "cannot sign"},
		{"ES256 with an OKP key", ed.Sign(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": ed.JWK}, params().Claims()), "cannot sign"},
		{"crit", k.Sign(hdr(func(h map[string]any) { h["crit"] = []string{"exp"} }), params().Claims()), "crit"},
		{"no jwk", k.Sign(hdr(func(h map[string]any) { delete(h, "jwk") }), params().Claims()), "jwk"},
		{"jwk not an object", k.Sign(hdr(func(h map[string]any) { h["jwk"] = "key" }), params().Claims()), "jwk"},
		{"jwk with k", k.Sign(hdr(func(h map[string]any) { h["jwk"].(map[string]any)["k"] = "c2VjcmV0" }), params().Claims()), "private"},
		{"kty oct", k.Sign(hdr(func(h map[string]any) { h["jwk"].(map[string]any)["kty"] = "oct" }), params().Claims()), "kty"},
		{"crv P-521", k.Sign(hdr(func(h map[string]any) { h["jwk"].(map[string]any)["crv"] = "P-521" }), params().Claims()), "crv"},
		{"x short", k.Sign(hdr(func(h map[string]any) { h["jwk"].(map[string]any)["x"] = x[:40] }), params().Claims()), "bytes"},
		{"x padded", k.Sign(hdr(func(h map[string]any) { h["jwk"].(map[string]any)["x"] = x + "=" }), params().Claims()), "base64url"},
		{"point off the curve", k.Sign(hdr(func(h map[string]any) { h["jwk"].(map[string]any)["x"] = y }), params().Claims()), "point"},
		{"another key's jwk", k.Sign(hdr(func(h map[string]any) { h["jwk"] = other.JWK }), params().Claims()), "signature"},
		{"signature flipped", parts[0] + "." + parts[1] + "." + flip(parts[2]), "signature"},
		{"signature DER-length", parts[0] + "." + parts[1] + "." + parts[2][:80], "signature"},
		{"payload edited", parts[0] + "." + b64(strings.Replace(string(mustDecode(parts[1])), "jti-1", "jti-2", 1)) + "." + parts[2], "signature"},
		{"no jti", k.Sign(k.Header(), claims(func(c map[string]any) { delete(c, "jti") })), "jti"},
		{"empty jti", k.Sign(k.Header(), claims(func(c map[string]any) { c["jti"] = "" })), "jti"},
		{"long jti", k.Sign(k.Header(), claims(func(c map[string]any) { c["jti"] = strings.Repeat("j", dpop.MaxJTILen+1) })), "jti"},
		{"jti null", k.Sign(k.Header(), claims(func(c map[string]any) { c["jti"] = nil })), "jti"},
		{"ath null", k.Sign(k.Header(), claims(func(c map[string]any) { c["ath"] = nil })), "ath"},
		{"jti a number", k.Sign(k.Header(), claims(func(c map[string]any) { c["jti"] = 7 })), "jti"},
		{"htm POST", k.Sign(k.Header(), claims(func(c map[string]any) { c["htm"] = "POST" })), "htm"},
		{"htm get", k.Sign(k.Header(), claims(func(c map[string]any) { c["htm"] = "get" })), "htm"},
		{"HTM", k.Sign(k.Header(), claims(func(c map[string]any) { c["HTM"] = c["htm"]; delete(c, "htm") })), "htm"},
		{"htu other path", k.Sign(k.Header(), claims(func(c map[string]any) { c["htu"] = testURL + "/1" })), "htu"},
		{"htu other host", k.Sign(k.Header(), claims(func(c map[string]any) { c["htu"] = "https://evil.example.com/v1/items" })), "htu"},
		{"htu http", k.Sign(k.Header(), claims(func(c map[string]any) { c["htu"] = "http://api.example.com/v1/items" })), "htu"},
		{"htu other port", k.Sign(k.Header(), claims(func(c map[string]any) { c["htu"] = "https://api.example.com:8443/v1/items" })), "htu"},
		{"htu relative", k.Sign(k.Header(), claims(func(c map[string]any) { c["htu"] = "/v1/items" })), "htu"},
		{"no iat", k.Sign(k.Header(), claims(func(c map[string]any) { delete(c, "iat") })), "iat"},
		{"iat a string", k.Sign(k.Header(), claims(func(c map[string]any) { c["iat"] = "1800000000" })), "iat"},
		{"iat 61 s ago", k.Sign(k.Header(), claims(func(c map[string]any) { c["iat"] = epoch.Unix() - 61 })), "ago"},
		{"iat 6 s ahead", k.Sign(k.Header(), claims(func(c map[string]any) { c["iat"] = epoch.Unix() + 6 })), "future"},
		{"iat huge", k.Sign(k.Header(), claims(func(c map[string]any) { c["iat"] = 1e300 })), "iat"},
		{"no ath", k.Sign(k.Header(), claims(func(c map[string]any) { delete(c, "ath") })), "ath"},
		{"ath of another token", k.Sign(k.Header(), claims(func(c map[string]any) { c["ath"] = dpoptest.ATH(testToken + "x") })), "ath"},
		{"payload not an object", k.Sign(k.Header(), nil), "payload"},
		{"two parts", parts[0] + "." + parts[1], "compact"},
		{"four parts", good + ".", "compact"},
		{"padded header", parts[0] + "=." + parts[1] + "." + parts[2], "base64url"},
		{"LF in the payload", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], "base64url"},
		{"over the size limit", good + strings.Repeat("A", dpop.MaxProofSize), "limit"},
		{"empty", "", "compact"},
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		cases = append(cases, struct{ name, proof, msg string }{"jwk with " + private,
			k.Sign(hdr(func(h map[string]any) { h["jwk"].(map[string]any)[private] = "AQAB" }), params().Claims()), "private"})
	}
	for _, c := range cases {
		_, err := checker().Check(c.proof, request())
		require.Error(t, err, c.name)
		assert.True(t, errors.Is(err, dpop.ErrInvalid), "%s: %v", c.name, err)
		assert.False(t, errors.Is(err, dpop.ErrUseNonce), "%s: %v", c.name, err)
		assert.Contains(t, err.Error(), c.msg, c.name)
	}
}

func mustDecode(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func flip(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

// TestNonTrailingBits: a segment whose last character has non-zero unused
// bits decodes to the same bytes in lax base64; Check refuses it.
func TestNonCanonicalBase64(t *testing.T) {
	k := newKey(t, "ES256")
	parts := strings.Split(k.Proof(params()), ".")
	sig := parts[2] // 64 bytes: 86 characters, the last carrying 4 unused bits
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[85])
	twin := sig[:85] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	lax, err := base64.RawURLEncoding.DecodeString(twin)
	require.NoError(t, err)
	orig, _ := base64.RawURLEncoding.DecodeString(sig)
	require.Equal(t, orig, lax)
	_, err = checker().Check(parts[0]+"."+parts[1]+"."+twin, request())
	assert.ErrorIs(t, err, dpop.ErrInvalid)
}

// TestRequestWithoutMethodOrURL: a Request must name both; a proof whose
// htm is null does not match an empty method.
func TestRequestWithoutMethodOrURL(t *testing.T) {
	k := newKey(t, "ES256")
	proof := k.Sign(k.Header(), map[string]any{"jti": "j", "htm": nil, "htu": nil, "iat": epoch.Unix()})
	for _, r := range []dpop.Request{{URL: testURL}, {Method: "GET"}, {}} {
		_, err := checker().Check(proof, r)
		require.ErrorIs(t, err, dpop.ErrInvalid)
		assert.Contains(t, err.Error(), "no method or URL")
	}
}

// TestBoundKey: with Request.JKT, a proof by another key is refused.
func TestBoundKey(t *testing.T) {
	k, thief := newKey(t, "ES256"), newKey(t, "ES256")
	r := request()
	r.JKT = k.JKT
	_, err := checker().Check(thief.Proof(params()), r)
	require.ErrorIs(t, err, dpop.ErrInvalid)
	assert.Contains(t, err.Error(), "bound")
}

// TestNonce: with Request.Nonce, a proof without the nonce or with an old
// one is ErrUseNonce (and ErrInvalid); with the current one it passes.
func TestNonce(t *testing.T) {
	k := newKey(t, "Ed25519")
	r := request()
	r.Nonce = func(n string) bool { return n == "n-2" }
	for _, nonce := range []string{"", "n-1"} {
		p := params()
		p.Nonce = nonce
		_, err := checker().Check(k.Proof(p), r)
		require.ErrorIs(t, err, dpop.ErrUseNonce, nonce)
		require.ErrorIs(t, err, dpop.ErrInvalid, nonce)
	}
	p := params()
	p.Nonce = "n-2"
	_, err := checker().Check(k.Proof(p), r)
	require.NoError(t, err)
	// Without a nonce required, a proof's nonce is not checked.
	p.Nonce = "anything"
	_, err = checker().Check(k.Proof(p), request())
	require.NoError(t, err)
}

// TestWindow: iat is accepted from MaxAge + Leeway in the past to
// MaxFuture + Leeway ahead, and Until is the end of that.
func TestWindow(t *testing.T) {
	k := newKey(t, "ES256")
	c := &dpop.Checker{MaxAge: 30 * time.Second, MaxFuture: 2 * time.Second, Leeway: 3 * time.Second, Now: func() time.Time { return epoch }}
	for off, ok := range map[time.Duration]bool{-33 * time.Second: true, -34 * time.Second: false, 5 * time.Second: true, 6 * time.Second: false, 0: true} {
		p := params()
		p.IssuedAt = epoch.Add(off)
		_, err := c.Check(k.Proof(p), request())
		assert.Equal(t, ok, err == nil, "%s: %v", off, err)
	}
	assert.Equal(t, epoch.Add(33*time.Second), c.Until(epoch))
	assert.Equal(t, epoch.Add(dpop.DefaultMaxAge), checker().Until(epoch))
	// A fractional iat is a NumericDate too.
	claims := params().Claims()
	claims["iat"] = float64(epoch.Unix()) + 0.5
	res, err := checker().Check(k.Sign(k.Header(), claims), request())
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(500*time.Millisecond), res.IssuedAt)
}

// TestAccepted: what the RFC lets differ between a proof and its request.
func TestAccepted(t *testing.T) {
	k := newKey(t, "ES256")
	for _, c := range []struct{ htu, url string }{
		{"HTTPS://API.Example.COM:443/v1/items", testURL},
		{testURL, "https://api.example.com:443/v1/items?page=2#top"},
		{testURL + "?q=1", testURL},
		{"https://api.example.com/v1/./x/../items", testURL},
		{"https://api.example.com/v1/%69tems", testURL},
		{"https://api.example.com/a%2fb", "https://api.example.com/a%2Fb"},
		{"http://h.example:80", "http://h.example/"},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
	} {
		p := params()
		p.URL = c.htu
		r := request()
		r.URL = c.url
		_, err := checker().Check(k.Proof(p), r)
		assert.NoError(t, err, "%s vs %s", c.htu, c.url)
	}
	// typ is a media type: case-insensitive. No ath is needed without a token.
	h := k.Header()
	h["typ"] = "DPoP+JWT"
	claims := params().Claims()
	delete(claims, "ath")
	r := request()
	r.AccessToken = ""
	_, err := checker().Check(k.Sign(h, claims), r)
	assert.NoError(t, err)
	// %2F is not "/": a different path.
	p := params()
	p.URL = "https://api.example.com/v1%2Fitems"
	_, err = checker().Check(k.Proof(p), request())
	assert.ErrorIs(t, err, dpop.ErrInvalid)
}

// TestAlgs: a Checker's Algs narrows what it accepts.
func TestAlgs(t *testing.T) {
	c := checker()
	c.Algs = []string{"ES256"}
	_, err := c.Check(newKey(t, "ES256").Proof(params()), request())
	require.NoError(t, err)
	_, err = c.Check(newKey(t, "EdDSA").Proof(params()), request())
	require.ErrorIs(t, err, dpop.ErrInvalid)
}

// TestHighS: an ES256 proof verifies with a high or a low s (clients do not
// normalise it; its twin has the same jti, which the replay set refuses).
func TestHighS(t *testing.T) {
	k := newKey(t, "ES256")
	proof := k.Proof(params())
	i := strings.LastIndexByte(proof, '.')
	sig, err := base64.RawURLEncoding.DecodeString(proof[i+1:])
	require.NoError(t, err)
	n := elliptic.P256().Params().N
	new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:])).FillBytes(sig[32:])
	twin := proof[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	a, err := checker().Check(proof, request())
	require.NoError(t, err)
	b, err := checker().Check(twin, request())
	require.NoError(t, err)
	assert.Equal(t, a.JTI, b.JTI)
}

// TestNormalURL: RFC 3986 §6.2.2-3 normalisation, and what is refused.
func TestNormalURL(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Example.COM":                "https://example.com/",
		"https://example.com:443/a?b#c":      "https://example.com/a",
		"http://example.com:80/":             "http://example.com/",
		"http://example.com:443/":            "http://example.com:443/",
		"https://example.com/a/./b/../c":     "https://example.com/a/c",
		"https://example.com/a/..":           "https://example.com/",
		"https://example.com/../../a":        "https://example.com/a",
		"https://example.com/%7euser/%2f%c3": "https://example.com/~user/%2F%C3",
		"https://[::1]/x":                    "https://[::1]/x",
		"https://example.com/A":              "https://example.com/A",
	} {
		got, err := dpop.NormalURL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "/a", "ftp://example.com/", "https:///a", "https://user@example.com/", "mailto:a@b", "https://exa mple.com/"} {
		_, err := dpop.NormalURL(bad)
		assert.Error(t, err, bad)
	}
}

// TestEd25519OneSpelling: crypto/ed25519 refuses s + L, so an Ed25519
// proof has one spelling.
func TestEd25519OneSpelling(t *testing.T) {
	k := newKey(t, "Ed25519")
	proof := k.Proof(params())
	i := strings.LastIndexByte(proof, '.')
	sig := mustDecode(proof[i+1:])
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	le := func(b []byte) []byte { // little-endian <-> big-endian
		out := make([]byte, len(b))
		for j := range b {
			out[len(b)-1-j] = b[j]
		}
		return out
	}
	s := new(big.Int).Add(new(big.Int).SetBytes(le(sig[32:])), l)
	copy(sig[32:], le(s.FillBytes(make([]byte, 32))))
	_, err := checker().Check(proof[:i+1]+base64.RawURLEncoding.EncodeToString(sig), request())
	assert.ErrorIs(t, err, dpop.ErrInvalid)
}
