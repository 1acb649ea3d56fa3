package rjwt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var tokenTestSecret = []byte("0123456789abcdef0123456789abcdef")

func tokenTestClient(t testing.TB, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithSecret(tokenTestSecret), WithAddr("127.0.0.1:1")}, opts...)...)
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

// base64url is the alphabet of a canonical token's segments.
var base64url = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// referenceParse is what Verify's token checks mean: golang-jwt's general
// parser with HS256 pinned, exp required, iat checked and strict base64,
// plus rjwt's shape; and no byte outside base64url's alphabet and the dots
// (Go's base64 decoder skips CR and LF even in strict mode).
func referenceParse(c *Client, token string) error {
	if len(token) > MaxTokenSize {
		return ErrInvalidToken
	}
	for _, seg := range strings.Split(token, ".") {
		if !base64url.MatchString(seg) {
			return ErrInvalidToken
		}
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

// TestFastPathAgreesWithGolangJWT mutates every byte of valid tokens and
// checks that the fast path accepts and rejects exactly what golang-jwt's
// general parser does: for rjwt's plain header (WithSecret), for a signing
// key's header with a kid, and for a retired kid-less key beside it.
func TestFastPathAgreesWithGolangJWT(t *testing.T) {
	k := keysForTest(t)
	plain := tokenTestClient(t)
	withKid := keyClient(t, WithSigningKey("k1", k.hs), WithVerificationKey("", tokenTestSecret), WithVerificationKey("ed", k.ed.Public()))
	cases := []struct {
		name string
		c    *Client
		sign func(*Claims) string
	}{
		{"WithSecret", plain, func(cl *Claims) string { return must(plain.signToken(cl)) }},
		{"signing key with kid", withKid, func(cl *Claims) string { return must(withKid.signToken(cl)) }},
		{"retired key without kid", withKid, func(cl *Claims) string { return golangJWT(t, jwt.SigningMethodHS256, "", cl, tokenTestSecret) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fastPathAgrees(t, tc.c, tc.sign)
		})
	}
}

func fastPathAgrees(t *testing.T, c *Client, sign func(*Claims) string) {
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
		tok := sign(cl)
		if c.fastKey(tok) == nil {
			t.Fatalf("%s: the token does not take the fast path", name)
		}
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

	tok := sign(valid)
	replacements := []byte{'A', 'B', 'C', 'D', 'a', '_', '-', '.', '=', '0', ' ', '\n', '\r', '+', '/', 0xff}
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
			if fastErr == nil {
				// Lax base64 would accept other spellings of a segment's
				// last character (its spare low bits); strict decoding not.
				t.Fatalf("mutation %q at %d accepted: a token has one spelling only", r, i)
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
	sig := base64.RawURLEncoding.EncodeToString(macOf(c.signer, header+"."+parts[1]))
	if _, err := c.parse(header + "." + parts[1] + "." + sig); err != nil {
		t.Fatalf("a correctly signed HS256 token with another header encoding: %v", err)
	}
	for _, alg := range []string{"none", "HS512", "RS256", "hs256"} {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
		sig := base64.RawURLEncoding.EncodeToString(macOf(c.signer, h+"."+parts[1]))
		if _, err := c.parse(h + "." + parts[1] + "." + sig); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("alg %q: %v", alg, err)
		}
	}
}

func FuzzParseAgreesWithGolangJWT(f *testing.F) {
	k := keysForTest(f)
	plain := tokenTestClient(f)
	withKid := keyClient(f, WithSigningKey("k1", k.hs), WithVerificationKey("", tokenTestSecret), WithVerificationKey("ed", k.ed.Public()))
	tok, _ := plain.signToken(testClaims())
	f.Add(tok)
	f.Add(hs256Header + ".e30.")
	f.Add("")
	f.Add(tok[:len(tok)-1] + spellings(tok[len(tok)-1:])[1]) // non-canonical signature
	f.Add(tok[:20] + "\n" + tok[20:])
	claims := testClaims()
	f.Add(signWithHeader(f, `{"alg":"HS256","crit":["exp"],"typ":"JWT"}`, claims))
	f.Add(signWithHeader(f, `{"typ":"JWT","alg":"HS256"}`, claims))
	f.Add(must(withKid.signToken(claims)))
	f.Add(golangJWT(f, jwt.SigningMethodEdDSA, "ed", claims, k.ed))
	f.Add(golangJWT(f, jwt.SigningMethodHS256, "ed", claims, k.hs))
	f.Add(golangJWT(f, jwt.SigningMethodHS256, "nope", claims, k.hs))
	f.Add(signHeader(f, `{"alg":"HS256","kid":7,"typ":"JWT"}`, claims, k.hs))
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []*Client{plain, withKid} {
			_, fastErr := c.parse(s)
			if refErr := referenceParse(c, s); !sameOutcome(fastErr, refErr) {
				t.Fatalf("fast path %v, golang-jwt %v", fastErr, refErr)
			}
		}
	})
}

// BenchmarkParse is Verify's token checks alone (no Redis) on the HS256 fast
// path; BenchmarkSignToken is Sign's encoding and MAC alone.
func BenchmarkParse(b *testing.B) {
	c := tokenTestClient(b)
	tok, err := c.signToken(testClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.parse(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignToken(b *testing.B) {
	c := tokenTestClient(b)
	claims := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.signToken(claims); err != nil {
			b.Fatal(err)
		}
	}
}

// signWithHeader signs claims as rjwt would, but under the given header JSON,
// with the test secret.
func signWithHeader(t testing.TB, header string, claims *Claims) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signed, tokenTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// spellings returns every base64url character that, in the last position of
// seg, decodes to the same bytes as last under lax decoding (which ignores a
// final character's spare low bits); last itself comes first.
func spellings(last string) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	out := []string{last}
	for _, r := range alphabet {
		if string(r) != last && strings.IndexRune(alphabet, r)>>2 == strings.Index(alphabet, last)>>2 {
			out = append(out, string(r))
		}
	}
	return out
}

// TestSignatureHasOneSpelling: a 32-byte HMAC is 43 base64url characters
// whose last carries 2 spare bits, so 4 spellings decode to the same bytes
// under lax base64. Exactly one verifies, on the fast path (rjwt's header)
// and on golang-jwt's (another header).
func TestSignatureHasOneSpelling(t *testing.T) {
	c := tokenTestClient(t)
	fast, err := c.signToken(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	general := signWithHeader(t, `{"typ":"JWT","alg":"HS256"}`, testClaims())
	for name, tok := range map[string]string{"fast path": fast, "golang-jwt path": general} {
		t.Run(name, func(t *testing.T) {
			head, last := tok[:len(tok)-1], tok[len(tok)-1:]
			variants := spellings(last)
			if len(variants) != 4 {
				t.Fatalf("%d spellings of %q, want 4", len(variants), last)
			}
			verified := 0
			for _, v := range variants {
				lax, err := base64.RawURLEncoding.DecodeString(head[strings.LastIndexByte(head, '.')+1:] + v)
				if err != nil || len(lax) != 32 {
					t.Fatalf("spelling %q does not decode laxly: %v", v, err)
				}
				_, err = c.parse(head + v)
				if refErr := referenceParse(c, head+v); !sameOutcome(err, refErr) {
					t.Fatalf("spelling %q: parse %v, reference %v", v, err, refErr)
				}
				if err == nil {
					verified++
					if v != last {
						t.Errorf("spelling %q verified; only %q should", v, last)
					}
				} else if !errors.Is(err, ErrInvalidToken) {
					t.Errorf("spelling %q: %v, want ErrInvalidToken", v, err)
				}
			}
			if verified != 1 {
				t.Fatalf("%d of 4 spellings verified, want 1", verified)
			}
		})
	}
}

// TestPayloadHasOneSpelling: the same for the claims segment, whose length
// varies with the claims; a payload of 3n+1 or 3n+2 bytes has spare bits.
func TestPayloadHasOneSpelling(t *testing.T) {
	c := tokenTestClient(t)
	tested := 0
	for extra := 0; extra < 3; extra++ {
		claims := testClaims()
		claims.DataToken = json.RawMessage(`"` + strings.Repeat("x", extra) + `"`)
		tok, err := c.signToken(claims)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		variants := spellings(parts[1][len(parts[1])-1:])
		if len(parts[1])%4 == 0 {
			continue
		}
		tested++
		for _, v := range variants[1:] {
			p := parts[1][:len(parts[1])-1] + v
			// The signature covers the non-canonical spelling: only the
			// encoding is wrong.
			sig := base64.RawURLEncoding.EncodeToString(macOf(c.signer, parts[0]+"."+p))
			m := parts[0] + "." + p + "." + sig
			_, err := c.parse(m)
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("payload spelling %q: %v, want ErrInvalidToken", v, err)
			}
			if refErr := referenceParse(c, m); !sameOutcome(err, refErr) {
				t.Errorf("payload spelling %q: parse %v, reference %v", v, err, refErr)
			}
		}
	}
	if tested == 0 {
		t.Fatal("no payload length with spare bits was tried")
	}
}

// TestLineBreaksAreRefused: Go's base64 decoder skips CR and LF, strict or
// not, so golang-jwt alone accepts a line break inside the signature; rjwt
// refuses one anywhere.
func TestLineBreaksAreRefused(t *testing.T) {
	c := tokenTestClient(t)
	fast, err := c.signToken(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	general := signWithHeader(t, `{"typ":"JWT","alg":"HS256"}`, testClaims())
	for _, tok := range []string{fast, general} {
		for _, i := range []int{5, len(hs256Header) + 5, len(tok) - 3} {
			for _, brk := range []string{"\n", "\r", "\r\n"} {
				m := tok[:i] + brk + tok[i:]
				if _, err := c.parse(m); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("%q at %d: %v", brk, i, err)
				}
			}
		}
		// In the header or claims a line break breaks the signature, which
		// covers the segments as written; in the signature nothing else does.
		inSig := tok[:len(tok)-3] + "\n" + tok[len(tok)-3:]
		if _, err := c.parser.ParseWithClaims(inSig, new(Claims), c.keyFunc); err == nil {
			t.Logf("golang-jwt alone accepts a line break in the signature")
		}
	}
}

// TestCriticalHeaderIsRefused: a header that names a critical extension is
// refused even when correctly signed (RFC 7515 §4.1.11: rjwt understands no
// extension), whatever it names.
func TestCriticalHeaderIsRefused(t *testing.T) {
	c := tokenTestClient(t)
	for _, h := range []string{
		`{"alg":"HS256","crit":["exp"],"exp":1,"typ":"JWT"}`,
		`{"alg":"HS256","crit":["exp"],"typ":"JWT"}`,
		`{"alg":"HS256","crit":["b64"],"b64":true,"typ":"JWT"}`,
		`{"alg":"HS256","crit":[],"typ":"JWT"}`,
		`{"alg":"HS256","crit":"exp","typ":"JWT"}`,
	} {
		tok := signWithHeader(t, h, testClaims())
		_, err := c.parse(tok)
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", h, err)
		}
		if errors.Is(err, jwt.ErrTokenUnverifiable) || errors.Is(err, jwt.ErrTokenMalformed) {
			t.Errorf("%s: %v wraps a golang-jwt error", h, err)
		}
	}
	// The same claims under a header without crit verify: crit is the cause.
	if _, err := c.parse(signWithHeader(t, `{"alg":"HS256","typ":"JWT"}`, testClaims())); err != nil {
		t.Fatal(err)
	}
}

// TestErrorsDoNotWrapGolangJWT: golang-jwt's errors are in the message, not
// in the chain.
func TestErrorsDoNotWrapGolangJWT(t *testing.T) {
	c := tokenTestClient(t)
	tok, err := c.signToken(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	expired := testClaims()
	expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	expiredTok, _ := c.signToken(expired)
	golangJWT := []error{jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenExpired, jwt.ErrTokenUnverifiable,
		jwt.ErrTokenInvalidClaims, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenRequiredClaimMissing}
	for name, m := range map[string]string{
		"bad signature fast":    tok[:len(tok)-2] + "AA",
		"bad signature general": signWithHeader(t, `{"typ":"JWT","alg":"HS256"}`, testClaims())[:len(tok)-2] + "AA",
		"segments":              tok + ".x",
		"expired fast":          expiredTok,
		"expired general":       signWithHeader(t, `{"typ":"JWT","alg":"HS256"}`, expired),
		"alg none":              base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + strings.Split(tok, ".")[1] + ".",
	} {
		_, err := c.parse(m)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		for _, e := range golangJWT {
			if errors.Is(err, e) {
				t.Errorf("%s: %v wraps golang-jwt's %v", name, err, e)
			}
		}
	}
}

// signTimed signs testClaims under header with the test secret, with iat,
// nbf and exp set to now plus the given offsets to the nanosecond (fractional
// seconds in the token, which both parsers read); a nil offset leaves the
// claim as testClaims has it, and none removes it.
func signTimed(t testing.TB, header string, iat, nbf, exp *time.Duration) string {
	t.Helper()
	b, err := json.Marshal(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, d := range map[string]*time.Duration{"iat": iat, "nbf": nbf, "exp": exp} {
		if d != nil {
			m[name] = float64(now.Add(*d).UnixNano()) / 1e9
		}
	}
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	signed := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signed, tokenTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func dur(d time.Duration) *time.Duration { return &d }

// TestLeeway: the default tolerates DefaultLeeway (5 s) of clock skew on iat,
// nbf and exp, on the fast path and on golang-jwt's alike.
func TestLeeway(t *testing.T) {
	tests := []struct {
		name          string
		leeway        *time.Duration // nil: the default
		iat, nbf, exp *time.Duration
		want          error // nil, ErrInvalidToken or ErrTokenExpired
		msg           string
	}{
		{"iat 1.5s ahead", nil, dur(1500 * time.Millisecond), nil, nil, nil, ""},
		{"iat 4s ahead", nil, dur(4 * time.Second), nil, nil, nil, ""},
		{"iat 30s ahead", nil, dur(30 * time.Second), nil, nil, ErrInvalidToken, "used before issued"},
		{"nbf 4s ahead", nil, nil, dur(4 * time.Second), nil, nil, ""},
		{"nbf 30s ahead", nil, nil, dur(30 * time.Second), nil, ErrInvalidToken, "not valid yet"},
		{"exp 1s ago", nil, dur(-time.Hour), nil, dur(-time.Second), nil, ""},
		{"exp 4s ago", nil, dur(-time.Hour), nil, dur(-4 * time.Second), nil, ""},
		{"exp 10s ago", nil, dur(-time.Hour), nil, dur(-10 * time.Second), ErrTokenExpired, "expired"},
		{"no leeway: iat 1.5s ahead", dur(0), dur(1500 * time.Millisecond), nil, nil, ErrInvalidToken, "used before issued"},
		{"no leeway: exp 1s ago", dur(0), dur(-time.Hour), nil, dur(-time.Second), ErrTokenExpired, "expired"},
		{"1m leeway: iat 30s ahead", dur(time.Minute), dur(30 * time.Second), nil, nil, nil, ""},
		{"1m leeway: exp 30s ago", dur(time.Minute), dur(-time.Hour), nil, dur(-30 * time.Second), nil, ""},
	}
	headers := map[string]string{"fast path": `{"alg":"HS256","typ":"JWT"}`, "golang-jwt path": `{"typ":"JWT","alg":"HS256"}`}
	for _, tc := range tests {
		var opts []Option
		if tc.leeway != nil {
			opts = append(opts, WithLeeway(*tc.leeway))
		}
		c := tokenTestClient(t, opts...)
		for path, h := range headers {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				tok := signTimed(t, h, tc.iat, tc.nbf, tc.exp)
				if fast := strings.HasPrefix(tok, hs256Header+"."); fast != (path == "fast path") {
					t.Fatalf("token takes the wrong path")
				}
				_, err := c.parse(tok)
				switch {
				case tc.want == nil && err != nil:
					t.Fatalf("refused: %v", err)
				case tc.want != nil && !errors.Is(err, tc.want):
					t.Fatalf("got %v, want %v", err, tc.want)
				case tc.want != nil && !strings.Contains(err.Error(), tc.msg):
					t.Fatalf("%q does not say %q", err, tc.msg)
				}
				if refErr := referenceParse(c, tok); !sameOutcome(err, refErr) {
					t.Fatalf("parse %v, reference %v", err, refErr)
				}
			})
		}
	}
}

func TestNegativeLeewayFailsNew(t *testing.T) {
	c, err := New(WithSecret(tokenTestSecret), WithLeeway(-time.Nanosecond))
	if err == nil || c != nil {
		t.Fatalf("New with a negative leeway: %v", err)
	}
	if !strings.Contains(err.Error(), "WithLeeway") {
		t.Fatalf("%q does not name the option", err)
	}
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

// TestTimesValidAgreesWithTheValidator: the fast path's allocation-free time
// check accepts exactly what golang-jwt's validator, built as New builds it,
// accepts, around every boundary (exp, nbf and iat each absent, or before,
// at and after now with and without the leeway).
func TestTimesValidAgreesWithTheValidator(t *testing.T) {
	now := time.Unix(1_795_516_142, 0)
	offsets := []time.Duration{-time.Hour, -3 * time.Second, -2*time.Second - 1, -2 * time.Second, -time.Second, -1, 0, 1, time.Second, 2 * time.Second, 2*time.Second + 1, time.Hour}
	dates := []*jwt.NumericDate{nil}
	for _, o := range offsets {
		dates = append(dates, &jwt.NumericDate{Time: now.Add(o)})
	}
	checked, accepted := 0, 0
	for _, leeway := range []time.Duration{0, time.Second, 2 * time.Second} {
		v := jwt.NewValidator(jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(func() time.Time { return now }))
		for _, exp := range dates {
			for _, nbf := range dates {
				for _, iat := range dates {
					c := &Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: exp, NotBefore: nbf, IssuedAt: iat}}
					fast := timesValid(&c.RegisteredClaims, now, leeway)
					want := v.Validate(c) == nil
					if fast != want {
						t.Fatalf("leeway %v, exp %v nbf %v iat %v: timesValid %v, validator %v", leeway, exp, nbf, iat, fast, want)
					}
					checked++
					if fast {
						accepted++
					}
				}
			}
		}
	}
	if accepted == 0 || accepted == checked {
		t.Fatalf("%d of %d accepted: the table does not reach both answers", accepted, checked)
	}
}
