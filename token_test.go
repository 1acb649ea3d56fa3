package rjwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var tokenTestSecret = []byte("0123456789abcdef0123456789abcdef")

func tokenTestClient(t testing.TB) *Client {
	t.Helper()
	c, err := New(WithSecret(tokenTestSecret), WithAddr("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testClaims() *Claims {
	now := time.Now()
	nano := strings.Repeat("N", nanoidLen)
	return &Claims{
		ID: "a:b", Session: "a:b:" + nano, DataToken: []byte(`{"role":"admin"}`), TTL: time.Hour,
		RegisteredClaims: jwt.RegisteredClaims{Subject: "a:b", ID: "jti-" + nano[4:], IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
	}
}

// refClaims are rjwt's claims decoded by encoding/json and golang-jwt's own
// types alone, without Claims.UnmarshalJSON.
type refClaims struct {
	ID        string          `json:"id"`
	Session   string          `json:"rjwt"`
	DataToken json.RawMessage `json:"dataToken"`
	TTL       int64           `json:"ttl"`
	Type      string          `json:"typ"`
	RefreshID string          `json:"rti"`
	jwt.RegisteredClaims
}

// referenceParse is what Verify's token checks mean: golang-jwt's general
// parser with HS256 pinned, exp required and iat checked, plus rjwt's shape.
func referenceParse(c *Client, token string) error {
	if len(token) > MaxTokenSize {
		return ErrInvalidToken
	}
	ref := new(refClaims)
	if _, err := c.parser.ParseWithClaims(token, ref, c.keyFunc); err != nil {
		return claimsErr(err)
	}
	claims := &Claims{ID: ref.ID, Session: ref.Session, RegisteredClaims: ref.RegisteredClaims}
	return c.checkClaims(claims)
}

func sameOutcome(a, b error) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return errors.Is(a, ErrTokenExpired) == errors.Is(b, ErrTokenExpired)
}

func TestSignTokenMatchesGolangJWT(t *testing.T) {
	c := tokenTestClient(t)
	claims := testClaims()
	fast, err := c.signToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(tokenTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	if fast != ref {
		t.Fatalf("signToken differs from golang-jwt:\n%s\n%s", fast, ref)
	}
	if !strings.HasPrefix(fast, hs256Header+".") {
		t.Fatalf("token does not start with the pinned header")
	}
}

// TestFastPathAgreesWithGolangJWT mutates every byte of a valid token and
// checks that the fast path accepts and rejects exactly what golang-jwt's
// general parser does.
func TestFastPathAgreesWithGolangJWT(t *testing.T) {
	c := tokenTestClient(t)
	tokens := map[string]*Claims{}
	valid := testClaims()
	expired := testClaims()
	expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	future := testClaims()
	future.IssuedAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	noExp := testClaims()
	noExp.ExpiresAt = nil
	notYet := testClaims()
	notYet.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Minute))
	badShape := testClaims()
	badShape.Session = "someone:else"
	otherSubject := testClaims()
	otherSubject.Subject = "mallory"
	noSubject := testClaims() // as tokens signed before "sub" was added
	noSubject.Subject = ""
	for name, cl := range map[string]*Claims{"valid": valid, "expired": expired, "iat in future": future, "no exp": noExp, "nbf in future": notYet, "bad shape": badShape, "other subject": otherSubject, "no subject": noSubject} {
		tok, err := c.signToken(cl)
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = cl
		_, fastErr := c.parse(tok)
		if refErr := referenceParse(c, tok); !sameOutcome(fastErr, refErr) {
			t.Errorf("%s: fast path %v, golang-jwt %v", name, fastErr, refErr)
		}
		if (name == "valid" || name == "no subject") && fastErr != nil {
			t.Fatalf("valid token refused: %v", fastErr)
		}
		if name == "expired" && !errors.Is(fastErr, ErrTokenExpired) {
			t.Errorf("expired token: %v", fastErr)
		}
		if name == "other subject" && !errors.Is(fastErr, ErrInvalidToken) {
			t.Errorf("a sub that is not the id: %v", fastErr)
		}
	}

	tok, _ := c.signToken(valid)
	replacements := []byte{'A', 'B', 'a', '_', '-', '.', '=', '0', ' ', 0xff}
	mutations := 0
	for i := 0; i < len(tok); i++ {
		for _, r := range replacements {
			if tok[i] == r {
				continue
			}
			m := tok[:i] + string(r) + tok[i+1:]
			_, fastErr := c.parse(m)
			refErr := referenceParse(c, m)
			mutations++
			if !sameOutcome(fastErr, refErr) {
				t.Fatalf("mutation %q at %d: fast path %v, golang-jwt %v", r, i, fastErr, refErr)
			}
			if fastErr == nil && m != tok {
				// Base64 has a few spare bits at a segment's end; only such
				// equivalent encodings may pass, and golang-jwt passes them too.
				t.Logf("mutation %q at %d accepted by both parsers (equivalent base64)", r, i)
			}
		}
	}
	for _, cut := range []int{1, 10, len(tok) / 2, len(tok) - 1} {
		m := tok[:cut]
		if _, fastErr := c.parse(m); !sameOutcome(fastErr, referenceParse(c, m)) || fastErr == nil {
			t.Fatalf("truncation at %d: fast path %v", cut, fastErr)
		}
	}
	extra := tok + ".x"
	if _, err := c.parse(extra); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("four segments: %v", err)
	}
	t.Logf("%d mutations agree", mutations)
}

func TestOtherHeaderEncodingsTakeTheGeneralParser(t *testing.T) {
	c := tokenTestClient(t)
	claims := testClaims()
	tok, err := c.signToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	// Same algorithm, keys in another order: not the fast path's header.
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256"}`))
	st := c.macs.get()
	sig := base64.RawURLEncoding.EncodeToString(st.macOf(header + "." + parts[1]))
	c.macs.put(st)
	if _, err := c.parse(header + "." + parts[1] + "." + sig); err != nil {
		t.Fatalf("a correctly signed HS256 token with another header encoding: %v", err)
	}
	for _, alg := range []string{"none", "HS512", "RS256", "hs256"} {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
		st := c.macs.get()
		sig := base64.RawURLEncoding.EncodeToString(st.macOf(h + "." + parts[1]))
		c.macs.put(st)
		if _, err := c.parse(h + "." + parts[1] + "." + sig); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("alg %q: %v", alg, err)
		}
	}
}

func FuzzParseAgreesWithGolangJWT(f *testing.F) {
	c := tokenTestClient(f)
	tok, _ := c.signToken(testClaims())
	f.Add(tok)
	f.Add(hs256Header + ".e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		_, fastErr := c.parse(s)
		if refErr := referenceParse(c, s); !sameOutcome(fastErr, refErr) {
			t.Fatalf("fast path %v, golang-jwt %v", fastErr, refErr)
		}
	})
}

func TestIssuerAndAudienceAreCheckedOnBothPaths(t *testing.T) {
	c, err := New(WithSecret(tokenTestSecret), WithAddr("127.0.0.1:1"), WithIssuer("https://auth.example"), WithAudience("api", "admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cases := []struct {
		name string
		iss  string
		aud  []string
		ok   bool
	}{
		{"issuer and one audience", "https://auth.example", []string{"api"}, true},
		{"the other audience among others", "https://auth.example", []string{"web", "admin"}, true},
		{"no issuer", "", []string{"api"}, false},
		{"another issuer", "https://evil.example", []string{"api"}, false},
		{"no audience", "https://auth.example", nil, false},
		{"another audience", "https://auth.example", []string{"web"}, false},
	}
	for _, tc := range cases {
		cl := testClaims()
		cl.Issuer, cl.Audience = tc.iss, tc.aud
		tok, err := c.signToken(cl)
		if err != nil {
			t.Fatal(err)
		}
		_, fastErr := c.parse(tok)
		if refErr := referenceParse(c, tok); !sameOutcome(fastErr, refErr) {
			t.Errorf("%s: fast path %v, golang-jwt %v", tc.name, fastErr, refErr)
		}
		if tc.ok != (fastErr == nil) || (!tc.ok && !errors.Is(fastErr, ErrInvalidToken)) {
			t.Errorf("%s: %v; want ok=%v", tc.name, fastErr, tc.ok)
		}
	}
	// A client without WithIssuer or WithAudience does not look at them.
	plain := tokenTestClient(t)
	cl := testClaims()
	cl.Issuer, cl.Audience = "anyone", []string{"anything"}
	tok, _ := plain.signToken(cl)
	if _, err := plain.parse(tok); err != nil {
		t.Errorf("a client without issuer or audience refused a token that has them: %v", err)
	}
	if _, err := New(WithSecret(tokenTestSecret), WithAudience("api", "")); err == nil {
		t.Error("WithAudience accepted an empty audience")
	}
}
