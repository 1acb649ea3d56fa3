package rjwt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

var sentinels = []error{rjwt.ErrInvalidToken, rjwt.ErrTokenExpired, rjwt.ErrSessionNotFound, rjwt.ErrInvalidTTL, rjwt.ErrInvalidID, rjwt.ErrNoSigningKey,
	rjwt.ErrStepUpRequired, rjwt.ErrTooManySessions, rjwt.ErrLoginSuperseded, rjwt.ErrInvalidAuthContext, rjwt.ErrInvalidProof}

// onlySentinel asserts err is target and none of the other sentinels.
func onlySentinel(t *testing.T, err, target error) {
	t.Helper()
	require.ErrorIs(t, err, target)
	for _, s := range sentinels {
		if s != target {
			assert.NotErrorIs(t, err, s, "error %q also matches %q", err, s)
		}
	}
}

// keysUnder lists the Redis keys whose names start with prefix. Tests may
// scan; the library never does.
func keysUnder(t *testing.T, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	var out []string
	var mu sync.Mutex
	pattern := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(prefix) + "*"
	scan := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok { // every master holds some
		require.NoError(t, cc.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) }))
	} else {
		require.NoError(t, scan(context.Background(), rdb))
	}
	return out
}

// withoutAnswers drops the 60 s answer keys ("op:") of Sign, Revoke and
// RevokeAll from a key list, leaving sessions and indexes.
func withoutAnswers(keys []string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if !strings.Contains(k, "}:op:") {
			out = append(out, k)
		}
	}
	return out
}

func TestNewRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		opts []rjwt.Option
		is   error
	}{
		{"no secret", nil, nil},
		{"empty secret", []rjwt.Option{rjwt.WithSecret(nil)}, nil},
		{"31-byte secret", []rjwt.Option{rjwt.WithSecret(testSecret[:31])}, nil},
		{"bad default TTL", []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithDefaultTTL("forever")}, rjwt.ErrInvalidTTL},
		{"sub-second default TTL", []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithDefaultTTL("500ms")}, rjwt.ErrInvalidTTL},
		{"prefix with brace", []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithPrefix("app{1}:")}, nil},
		{"nil redis client", []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithRedisClient(nil)}, nil},
		{"negative db", []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithDB(-1)}, nil},
		{"empty addr", []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr("")}, nil},
		{"negative timeout", []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithTimeout(-time.Second)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rjwt.New(tc.opts...)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), "rjwt")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestNewDoesNotContactRedis(t *testing.T) {
	port, err := redistest.FreePort()
	require.NoError(t, err)
	start := time.Now()
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(fmt.Sprintf("127.0.0.1:%d", port)))
	require.NoError(t, err)
	defer c.Close()
	assert.Less(t, time.Since(start), 100*time.Millisecond)
}

func TestSecretIsCopied(t *testing.T) {
	redistest.Need(t)
	secret := append([]byte(nil), testSecret...)
	c, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithAddr(redisAddr), rjwt.WithPrefix("copy:"))
	require.NoError(t, err)
	defer c.Close()
	tok, err := c.Sign(context.Background(), "u")
	require.NoError(t, err)
	secret[0] ^= 0xff // the caller reuses its buffer
	_, err = c.Verify(context.Background(), tok)
	require.NoError(t, err)
}

// payload decodes a token's claims segment without checking anything.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestSignThenVerifyCarriesClaims(t *testing.T) { eachTopology(t, testSignThenVerifyCarriesClaims) }

func testSignThenVerifyCarriesClaims(t *testing.T, tp *topology) {
	c := tp.newClient(t)
	ctx := context.Background()
	before := time.Now().Truncate(time.Second)
	tok, err := c.Sign(ctx, "alice", rjwt.WithTTL("15 minutes"),
		rjwt.WithDataToken(map[string]string{"role": "admin"}),
		rjwt.WithDataSession(map[string]any{"secret": "s3cr3t", "views": 1}))
	require.NoError(t, err)

	claims, err := c.Verify(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "alice", claims.ID)
	assert.Len(t, claims.RegisteredClaims.ID, 21, "jti is a 21-character nanoid")
	assert.NotEqual(t, nanoOf(claims.Session), claims.RegisteredClaims.ID, "the jti names the token, not the session")
	assert.Regexp(t, `^alice:[A-Za-z0-9_-]{21}$`, claims.Session)
	sub, err := claims.GetSubject()
	require.NoError(t, err)
	assert.Equal(t, "alice", sub, "golang-jwt's GetSubject is the user id")
	assert.JSONEq(t, `{"role":"admin"}`, string(claims.DataToken))
	assert.Nil(t, claims.DataSession, "DataSession is loaded only WithSession")
	assert.Equal(t, 15*time.Minute, claims.TTL)
	require.NotNil(t, claims.IssuedAt)
	require.NotNil(t, claims.ExpiresAt)
	assert.False(t, claims.IssuedAt.Before(before))
	assert.Equal(t, 15*time.Minute, claims.ExpiresAt.Sub(claims.IssuedAt.Time))

	var role struct{ Role string }
	require.NoError(t, claims.DecodeDataToken(&role))
	assert.Equal(t, "admin", role.Role)
	assert.ErrorIs(t, claims.DecodeDataSession(&struct{}{}), rjwt.ErrNoData)

	withSession, err := c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	var priv struct {
		Secret string
		Views  int
	}
	require.NoError(t, withSession.DecodeDataSession(&priv))
	assert.Equal(t, "s3cr3t", priv.Secret)
	assert.Equal(t, 1, priv.Views)

	// The token carries exactly the documented claims, and nothing private.
	p := payload(t, tok)
	for _, k := range []string{"id", "rjwt", "dataToken", "ttl", "iat", "exp", "jti", "sub"} {
		assert.Contains(t, p, k)
	}
	assert.Equal(t, float64(900), p["ttl"])
	assert.NotContains(t, tok, "s3cr3t")
	assert.NotContains(t, fmt.Sprint(p), "s3cr3t")
	assert.NotContains(t, p, "dataSession")
}

func TestSignWithoutDataLeavesDataNil(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "bob")
	require.NoError(t, err)
	claims, err := c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	assert.Nil(t, claims.DataToken)
	assert.Nil(t, claims.DataSession)
	assert.Equal(t, time.Hour, claims.TTL, "the default TTL is 1 hour")
	assert.NotContains(t, payload(t, tok), "dataToken")
	assert.ErrorIs(t, claims.DecodeDataToken(&struct{}{}), rjwt.ErrNoData)
}

func TestDefaultTTLOption(t *testing.T) {
	c := newClient(t, rjwt.WithDefaultTTL("2 days"))
	tok, err := c.Sign(context.Background(), "u")
	require.NoError(t, err)
	claims, err := c.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, 48*time.Hour, claims.TTL)
}

func TestSessionExpiresInRedisWithTheTTL(t *testing.T) {
	eachTopology(t, testSessionExpiresInRedisWithTheTTL)
}

func testSessionExpiresInRedisWithTheTTL(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	tok, err := c.Sign(ctx, "ttl-user", rjwt.WithTTL("1 hour"))
	require.NoError(t, err)
	claims, err := c.Verify(ctx, tok)
	require.NoError(t, err)

	if leanLayout() {
		// The lean layout: prefix + "{id}:s", a field per session with the
		// session's expiry.
		keys := withoutAnswers(keysUnder(t, c.Redis(), prefixOf(t, c)))
		require.Equal(t, []string{leanKey(prefixOf(t, c), "ttl-user")}, keys)
		ttl, err := sessionPTTL(ctx, c.Redis(), prefixOf(t, c), "ttl-user", nanoOf(claims.Session))
		require.NoError(t, err)
		assert.InDelta(t, time.Hour.Milliseconds(), ttl.Milliseconds(), 2000, "the field expires with the session")
		require.NoError(t, expireSession(ctx, c.Redis(), prefixOf(t, c), "ttl-user", nanoOf(claims.Session), 20*time.Millisecond))
		time.Sleep(60 * time.Millisecond)
		_, err = c.Verify(ctx, tok)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
		return
	}
	// The documented layout: prefix + "{id}:" + nanoid, and prefix + "{id}:idx".
	keys := withoutAnswers(keysUnder(t, c.Redis(), prefixOf(t, c)))
	require.Len(t, keys, 2)
	var sessionKey, indexKey string
	for _, k := range keys {
		if strings.HasSuffix(k, "}:idx") {
			indexKey = k
		} else {
			sessionKey = k
		}
	}
	require.True(t, strings.HasSuffix(sessionKey, "{ttl-user}:"+nanoOf(claims.Session)), sessionKey)
	for _, k := range []string{sessionKey, indexKey} {
		ttl, err := c.Redis().PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.InDelta(t, time.Hour.Milliseconds(), ttl.Milliseconds(), 2000, "%s expires with the session", k)
	}

	// Redis expires the session while the token is still within its exp.
	require.NoError(t, c.Redis().PExpire(ctx, sessionKey, 20*time.Millisecond).Err())
	time.Sleep(60 * time.Millisecond)
	_, err = c.Verify(ctx, tok)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	_, err = c.Verify(ctx, tok, rjwt.WithSession())
	onlySentinel(t, err, rjwt.ErrSessionNotFound)

	// Listing leaves out the index entry whose session is gone.
	list, err := c.Sessions(ctx, "ttl-user")
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestExpiredTokenIsErrTokenExpired(t *testing.T) {
	c := newClient(t, rjwt.WithLeeway(0)) // the default leeway outlasts the 1-second session
	ctx := context.Background()
	tok, err := c.Sign(ctx, "short", rjwt.WithTTL("1 second"))
	require.NoError(t, err)
	_, err = c.Verify(ctx, tok)
	require.NoError(t, err)
	time.Sleep(2100 * time.Millisecond) // exp has whole-second precision
	_, err = c.Verify(ctx, tok)
	onlySentinel(t, err, rjwt.ErrTokenExpired)
	_, err = c.Verify(ctx, tok, rjwt.WithSession())
	onlySentinel(t, err, rjwt.ErrTokenExpired)
}

func TestSignRefusesBadTTLAndWritesNothing(t *testing.T) {
	c := newClient(t)
	for _, ttl := range []string{"", "soon", "0 seconds", "-1 hour", "10", "999ms", "200 years", "1h-"} {
		t.Run(ttl, func(t *testing.T) {
			tok, err := c.Sign(context.Background(), "ttl", rjwt.WithTTL(ttl))
			onlySentinel(t, err, rjwt.ErrInvalidTTL)
			assert.Empty(t, tok)
		})
	}
	assert.Empty(t, keysUnder(t, c.Redis(), prefixOf(t, c)))
}

func TestSignRefusesUnencodableData(t *testing.T) {
	c := newClient(t)
	_, err := c.Sign(context.Background(), "u", rjwt.WithDataToken(make(chan int)))
	require.Error(t, err)
	_, err = c.Sign(context.Background(), "u", rjwt.WithDataSession(func() {}))
	require.Error(t, err)
	assert.Empty(t, keysUnder(t, c.Redis(), prefixOf(t, c)))
}

func TestHostileUserIDsAreJustNames(t *testing.T) { eachTopology(t, testHostileUserIDsAreJustNames) }

func testHostileUserIDsAreJustNames(t *testing.T, tp *topology) {
	ids := []string{
		"*", "?", "[a-z]*", "a:b", "a:b:c", "{x}", "{", "}", "}x", "x}{", "%7Bx%7D", "%",
		"line\nbreak", "tab\there", "space d", "\\", "ünïcødé ✓", "' OR 1=1 --",
		strings.Repeat("z", rjwt.MaxIDLength),
	}
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	tokens := map[string]string{}
	for _, id := range ids {
		tok, err := c.Sign(ctx, id)
		require.NoError(t, err, "id %q", id)
		tokens[id] = tok
		claims, err := c.Verify(ctx, tok)
		require.NoError(t, err, "id %q", id)
		assert.Equal(t, id, claims.ID, "Claims.ID returns the id exactly")
		assert.Equal(t, id+":"+nanoOf(claims.Session), claims.Session)
		assert.Equal(t, id, claims.Subject)
		list, err := c.Sessions(ctx, id)
		require.NoError(t, err)
		require.Len(t, list, 1, "id %q sees only its own session", id)
		assert.Equal(t, claims.Session, list[0].Session)
	}

	// Revoking every session of the glob-looking users touches no one else.
	for _, id := range []string{"*", "?", "[a-z]*", "{x}", "%"} {
		n, err := c.RevokeAll(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "RevokeAll(%q) ends only its own session", id)
		_, err = c.Verify(ctx, tokens[id])
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
	}
	for _, id := range ids {
		switch id {
		case "*", "?", "[a-z]*", "{x}", "%":
			continue
		}
		_, err := c.Verify(ctx, tokens[id])
		assert.NoError(t, err, "user %q survives the others' RevokeAll", id)
	}
}

func TestInvalidUserIDs(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	for name, id := range map[string]string{
		"empty":        "",
		"too long":     strings.Repeat("z", rjwt.MaxIDLength+1),
		"invalid UTF8": "a\xffb",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Sign(ctx, id)
			onlySentinel(t, err, rjwt.ErrInvalidID)
			_, err = c.RevokeAll(ctx, id)
			onlySentinel(t, err, rjwt.ErrInvalidID)
			_, err = c.Sessions(ctx, id)
			onlySentinel(t, err, rjwt.ErrInvalidID)
		})
	}
	for _, s := range []string{"", "alice", "alice:", ":" + strings.Repeat("a", 21), "alice:" + strings.Repeat("a", 20), "alice:" + strings.Repeat("*", 21), "alice" + strings.Repeat("a", 22)} {
		err := c.Revoke(ctx, s)
		onlySentinel(t, err, rjwt.ErrInvalidID)
	}
	assert.Empty(t, keysUnder(t, c.Redis(), prefixOf(t, c)))
}

// forge signs arbitrary claims with any method and key.
func forge(t *testing.T, method jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func TestForgedTokensAreInvalid(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	good, err := c.Sign(ctx, "victim", rjwt.WithDataToken(map[string]string{"role": "user"}))
	require.NoError(t, err)
	claims, err := c.Verify(ctx, good)
	require.NoError(t, err)
	parts := strings.Split(good, ".")

	flipped := []byte(parts[1])
	flipped[10] ^= 0x01
	escalated := *claims
	escalated.DataToken = json.RawMessage(`{"role":"admin"}`)
	escalatedPayload, err := json.Marshal(escalated)
	require.NoError(t, err)
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	otherIssuer := jwt.MapClaims{"sub": "victim", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}

	tests := map[string]string{
		"empty":                  "",
		"garbage":                "not a token",
		"two segments":           parts[0] + "." + parts[1],
		"truncated":              good[:len(good)-5],
		"flipped payload byte":   parts[0] + "." + string(flipped) + "." + parts[2],
		"escalated payload":      parts[0] + "." + base64.RawURLEncoding.EncodeToString(escalatedPayload) + "." + parts[2],
		"alg none":               noneHeader + "." + parts[1] + ".",
		"alg none library":       forge(t, jwt.SigningMethodNone, claims, jwt.UnsafeAllowNoneSignatureType),
		"HS512 same secret":      forge(t, jwt.SigningMethodHS512, claims, testSecret),
		"HS384 same secret":      forge(t, jwt.SigningMethodHS384, claims, testSecret),
		"other secret":           forge(t, jwt.SigningMethodHS256, claims, []byte(strings.Repeat("k", 32))),
		"foreign claims shape":   forge(t, jwt.SigningMethodHS256, otherIssuer, testSecret),
		"1 MiB":                  strings.Repeat("a", 1<<20),
		"just over MaxTokenSize": good + strings.Repeat("A", rjwt.MaxTokenSize-len(good)+1),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.Verify(ctx, tok)
			onlySentinel(t, err, rjwt.ErrInvalidToken)
			assert.Nil(t, got)
			got, err = c.Verify(ctx, tok, rjwt.WithSession())
			onlySentinel(t, err, rjwt.ErrInvalidToken)
			assert.Nil(t, got)
		})
	}
}

func TestTokenWithoutExpiryIsInvalid(t *testing.T) {
	c := newClient(t)
	tok, err := c.Sign(context.Background(), "u")
	require.NoError(t, err)
	claims, err := c.Verify(context.Background(), tok)
	require.NoError(t, err)
	claims.ExpiresAt = nil
	_, err = c.Verify(context.Background(), forge(t, jwt.SigningMethodHS256, claims, testSecret))
	onlySentinel(t, err, rjwt.ErrInvalidToken)
}

func TestRevokeEndsOneSession(t *testing.T) { eachTopology(t, testRevokeEndsOneSession) }

func testRevokeEndsOneSession(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	a, err := c.Sign(ctx, "carol")
	require.NoError(t, err)
	b, err := c.Sign(ctx, "carol")
	require.NoError(t, err)
	ca, err := c.Verify(ctx, a)
	require.NoError(t, err)

	require.NoError(t, c.Revoke(ctx, ca.Session))
	_, err = c.Verify(ctx, a)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	_, err = c.Verify(ctx, b)
	require.NoError(t, err, "the user's other session lives on")

	err = c.Revoke(ctx, ca.Session)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)

	list, err := c.Sessions(ctx, "carol")
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func TestRevokeAllEndsEverySessionOfOneUser(t *testing.T) {
	eachTopology(t, testRevokeAllEndsEverySessionOfOneUser)
}

func testRevokeAllEndsEverySessionOfOneUser(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	var toks []string
	for i := 0; i < 3; i++ {
		tok, err := c.Sign(ctx, "dave")
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	other, err := c.Sign(ctx, "dave2")
	require.NoError(t, err)

	n, err := c.RevokeAll(ctx, "dave")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, tok := range toks {
		_, err := c.Verify(ctx, tok)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
	}
	_, err = c.Verify(ctx, other)
	require.NoError(t, err)

	n, err = c.RevokeAll(ctx, "dave")
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = c.RevokeAll(ctx, "nobody")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestSessionsListsLiveSessionsSoonestFirst(t *testing.T) {
	eachTopology(t, testSessionsListsLiveSessionsSoonestFirst)
}

func testSessionsListsLiveSessionsSoonestFirst(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	list, err := c.Sessions(ctx, "erin")
	require.NoError(t, err)
	assert.Empty(t, list)

	want := map[string]time.Duration{}
	for _, ttl := range []string{"3 hours", "1 hour", "2 days"} {
		tok, err := c.Sign(ctx, "erin", rjwt.WithTTL(ttl))
		require.NoError(t, err)
		cl, err := c.Verify(ctx, tok)
		require.NoError(t, err)
		want[cl.Session] = cl.TTL
	}
	list, err = c.Sessions(ctx, "erin")
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i, s := range list {
		ttl, ok := want[s.Session]
		require.True(t, ok, s.Session)
		assert.WithinDuration(t, time.Now().Add(ttl), s.ExpiresAt, 2*time.Second)
		if i > 0 {
			assert.True(t, list[i-1].ExpiresAt.Before(s.ExpiresAt))
		}
	}
}

func TestSingleModeReplacesTheUsersOtherSessions(t *testing.T) {
	eachTopology(t, testSingleModeReplacesTheUsersOtherSessions)
}

func testSingleModeReplacesTheUsersOtherSessions(t *testing.T, tp *topology) {
	c := tp.newClient(t) // single mode is the default
	ctx := context.Background()
	first, err := c.Sign(ctx, "frank")
	require.NoError(t, err)
	bystander, err := c.Sign(ctx, "frank:2")
	require.NoError(t, err)
	second, err := c.Sign(ctx, "frank")
	require.NoError(t, err)

	_, err = c.Verify(ctx, first)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	_, err = c.Verify(ctx, second)
	require.NoError(t, err)
	_, err = c.Verify(ctx, bystander)
	require.NoError(t, err, "user frank:2 is not frank")

	list, err := c.Sessions(ctx, "frank")
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func TestSingleModeIsAtomicUnderConcurrentSigns(t *testing.T) {
	eachTopology(t, testSingleModeIsAtomicUnderConcurrentSigns)
}

func testSingleModeIsAtomicUnderConcurrentSigns(t *testing.T, tp *topology) {
	c := tp.newClient(t)
	ctx := context.Background()
	const n = 50
	tokens := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok, err := c.Sign(ctx, "racer")
			if err != nil {
				// A login issued before one that already holds the
				// session is superseded: told so, not handed a dead token,
				// and not told it was revoked.
				onlySentinel(t, err, rjwt.ErrLoginSuperseded)
			}
			tokens[i] = tok
		}()
	}
	close(start)
	wg.Wait()

	live := 0
	for _, tok := range tokens {
		if tok == "" {
			continue
		}
		_, err := c.Verify(ctx, tok)
		if err == nil {
			live++
		} else {
			onlySentinel(t, err, rjwt.ErrSessionNotFound)
		}
	}
	assert.Equal(t, 1, live, "exactly one token verifies")
	list, err := c.Sessions(ctx, "racer")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	assert.Len(t, withoutAnswers(keysUnder(t, c.Redis(), prefixOf(t, c))), keysOfOneSession(), "one session key and its index")
}

func TestSingleModeRevokesSessionsMadeInMultipleMode(t *testing.T) {
	eachTopology(t, testSingleModeRevokesSessionsMadeInMultipleMode)
}

func testSingleModeRevokesSessionsMadeInMultipleMode(t *testing.T, tp *topology) {
	multi := tp.newClient(t, rjwt.WithMultiple(true), rjwt.WithMaxSessions(0))
	ctx := context.Background()
	var toks []string
	for i := 0; i < 1200; i++ { // more than one DEL chunk
		tok, err := multi.Sign(ctx, "switcher")
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	claims, err := multi.Verify(ctx, toks[0])
	require.NoError(t, err)
	require.Equal(t, "switcher", claims.ID)

	single, err := rjwt.New(rjwt.WithSecret(testSecret), tp.conn(t), rjwt.WithPrefix(prefixOf(t, multi)))
	require.NoError(t, err)
	defer single.Close()
	last, err := single.Sign(ctx, "switcher")
	require.NoError(t, err)
	for _, tok := range []string{toks[0], toks[600], toks[1199]} {
		_, err := multi.Verify(ctx, tok)
		onlySentinel(t, err, rjwt.ErrSessionNotFound)
	}
	_, err = multi.Verify(ctx, last)
	require.NoError(t, err)
	list, err := multi.Sessions(ctx, "switcher")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	assert.Len(t, withoutAnswers(keysUnder(t, multi.Redis(), prefixOf(t, multi))), keysOfOneSession())
}

func TestMultipleModeKeepsEverySession(t *testing.T) {
	eachTopology(t, testMultipleModeKeepsEverySession)
}

func testMultipleModeKeepsEverySession(t *testing.T, tp *topology) {
	c := tp.newClient(t, rjwt.WithMultiple(true))
	ctx := context.Background()
	var toks []string
	for i := 0; i < 5; i++ {
		tok, err := c.Sign(ctx, "gina")
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	for _, tok := range toks {
		_, err := c.Verify(ctx, tok)
		require.NoError(t, err)
	}
}

// TestNoKeyspaceScans runs every session path against a private server and
// checks that Redis never saw KEYS or SCAN.
func TestNoKeyspaceScans(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	for _, multiple := range []bool{false, true} {
		c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(srv.Addr()), rjwt.WithMultiple(multiple))
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			tok, err := c.Sign(ctx, "*")
			require.NoError(t, err)
			cl, err := c.Verify(ctx, tok, rjwt.WithSession())
			require.NoError(t, err)
			_, err = c.Sessions(ctx, "*")
			require.NoError(t, err)
			if i == 1 {
				require.NoError(t, c.Revoke(ctx, cl.Session))
			}
		}
		_, err = c.RevokeAll(ctx, "*")
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	stats, err := rdb.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	assert.Contains(t, stats, "cmdstat_evalsha")
	assert.NotContains(t, stats, "cmdstat_keys:")
	assert.NotContains(t, stats, "cmdstat_scan:")
}

func TestRedisDownFailsWithWrappedErrorWithinDeadline(t *testing.T) {
	live := newClient(t)
	ctx := context.Background()
	tok, err := live.Sign(ctx, "henry")
	require.NoError(t, err)

	port, err := redistest.FreePort()
	require.NoError(t, err)
	down, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(fmt.Sprintf("127.0.0.1:%d", port)))
	require.NoError(t, err)
	defer down.Close()

	notSentinel := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		for _, s := range sentinels {
			assert.NotErrorIs(t, err, s)
		}
	}
	calls := map[string]func(context.Context) error{
		"Sign": func(ctx context.Context) error {
			tok, err := down.Sign(ctx, "henry")
			assert.Empty(t, tok)
			return err
		},
		"Verify": func(ctx context.Context) error {
			cl, err := down.Verify(ctx, tok)
			assert.Nil(t, cl, "never a successful verification")
			return err
		},
		"VerifyWithSession": func(ctx context.Context) error {
			cl, err := down.Verify(ctx, tok, rjwt.WithSession())
			assert.Nil(t, cl)
			return err
		},
		"Revoke":    func(ctx context.Context) error { return down.Revoke(ctx, "henry:"+strings.Repeat("a", 21)) },
		"RevokeAll": func(ctx context.Context) error { _, err := down.RevokeAll(ctx, "henry"); return err },
		"Sessions":  func(ctx context.Context) error { _, err := down.Sessions(ctx, "henry"); return err },
	}
	for name, call := range calls {
		t.Run(name+"/deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := call(ctx)
			notSentinel(t, err)
			assert.ErrorIs(t, err, rjwt.ErrUnavailable)
			assert.Contains(t, err.Error(), "refused", "the cause is kept")
			assert.Less(t, time.Since(start), 1500*time.Millisecond)
		})
		t.Run(name+"/canceled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			notSentinel(t, call(ctx))
		})
	}
	t.Run("no deadline: the 5 second default", func(t *testing.T) {
		start := time.Now()
		notSentinel(t, calls["Verify"](context.Background()))
		assert.Less(t, time.Since(start), 6*time.Second)
	})
}

func TestWithTimeoutBoundsCallsWithoutDeadline(t *testing.T) {
	port, err := redistest.FreePort()
	require.NoError(t, err)
	down, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(fmt.Sprintf("127.0.0.1:%d", port)), rjwt.WithTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer down.Close()
	start := time.Now()
	_, err = down.Sign(context.Background(), "ivy")
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "refused"), err.Error())
	assert.Less(t, time.Since(start), time.Second)
}

func TestBringYourOwnRedisClientIsNotClosed(t *testing.T) {
	redistest.Need(t)
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithRedisClient(rdb), rjwt.WithPrefix("byo:"))
	require.NoError(t, err)
	tok, err := c.Sign(context.Background(), "jack")
	require.NoError(t, err)
	_, err = c.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Same(t, rdb, c.Redis().(*redis.Client))
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close twice is fine")
	require.NoError(t, rdb.Ping(context.Background()).Err(), "rjwt leaves a client it did not create open")
}

func TestClaimsJSONRoundTrip(t *testing.T) {
	in := rjwt.Claims{ID: "a:b", Session: "a:b:" + strings.Repeat("x", 21), DataToken: json.RawMessage(`{"k":1}`),
		DataSession: json.RawMessage(`{"private":true}`), TTL: 90 * time.Second}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"ttl":90`)
	assert.NotContains(t, string(b), "private")
	var out rjwt.Claims
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in.TTL, out.TTL)
	assert.Equal(t, in.ID, out.ID)
	assert.Nil(t, out.DataSession)
}
