package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rjwt/rjwt"
)

// line returns the output line that starts with label, or "".
func line(out, label string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, label+" ") {
			return strings.TrimSpace(strings.TrimPrefix(l, label))
		}
	}
	return ""
}

func TestInspect(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	c := app(t, redisAddr, p)
	token, session := sign(t, c, "alice", "15 minutes")
	args := func(extra ...string) []string {
		return append([]string{"-redis", redisAddr, "-prefix", p, "inspect"}, extra...)
	}
	withKey := inv{env: []string{"RJWT_SECRET=" + string(secret)}}

	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, append(append([]byte(nil), secret...), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongKey := inv{env: []string{"RJWT_SECRET=" + randomKey(t)}}

	t.Run("valid, key from env", func(t *testing.T) {
		r := withKey.run(t, args(token)...).want(t, exitOK)
		if got := line(r.stdout, "verify"); got != "valid" {
			t.Errorf("verify %q\n%s", got, r.stdout)
		}
		if got := line(r.stdout, "header"); got != `{"alg":"HS256","typ":"JWT"}` {
			t.Errorf("header %q", got)
		}
		if line(r.stdout, "user") != "alice" || line(r.stdout, "session") != session || line(r.stdout, "type") != "access" {
			t.Errorf("claims not shown:\n%s", r.stdout)
		}
		if !strings.Contains(line(r.stdout, "claims"), `"rjwt":"`+session+`"`) {
			t.Errorf("raw claims %q", line(r.stdout, "claims"))
		}
		if got := line(r.stdout, "redis"); !strings.HasPrefix(got, "live, TTL 1") && !strings.HasPrefix(got, "live, TTL 9m5") {
			// 15m0s or 14m59s left
			t.Errorf("redis %q", got)
		}
		if !strings.Contains(line(r.stdout, "expires"), "(in 1") {
			t.Errorf("expires %q", line(r.stdout, "expires"))
		}
	})
	t.Run("key from file, trailing newline trimmed; the file wins over env", func(t *testing.T) {
		r := wrongKey.run(t, append([]string{"-secret-file", keyFile}, args(token)...)...).want(t, exitOK)
		if got := line(r.stdout, "verify"); got != "valid" {
			t.Errorf("verify %q", got)
		}
	})
	t.Run("token from stdin", func(t *testing.T) {
		r := inv{env: withKey.env, stdin: token + "\n"}.run(t, args("-")...).want(t, exitOK)
		if got := line(r.stdout, "verify"); got != "valid" {
			t.Errorf("verify %q", got)
		}
	})
	t.Run("bad signature still decodes", func(t *testing.T) {
		r := wrongKey.run(t, args(token)...).want(t, exitFailed)
		if got := line(r.stdout, "verify"); !strings.HasPrefix(got, "bad signature") {
			t.Errorf("verify %q", got)
		}
		if line(r.stdout, "user") != "alice" || line(r.stdout, "session") != session {
			t.Errorf("claims not decoded with a bad signature:\n%s", r.stdout)
		}
		if !strings.HasPrefix(line(r.stdout, "redis"), "live") {
			t.Errorf("redis %q", line(r.stdout, "redis"))
		}
	})
	t.Run("no key", func(t *testing.T) {
		r := runCmd(t, args(token)...).want(t, exitOK)
		if got := line(r.stdout, "signature"); got != "not checked (no key)" {
			t.Errorf("signature %q\n%s", got, r.stdout)
		}
		if line(r.stdout, "verify") != "" || !strings.HasPrefix(line(r.stdout, "redis"), "live") {
			t.Errorf("output\n%s", r.stdout)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := withKey.run(t, append([]string{"-json"}, args(token)...)...).want(t, exitOK)
		var got struct {
			Header  map[string]string
			Claims  map[string]any
			User    string
			Session string
			Verify  string
			Redis   struct {
				State      string
				TTLSeconds int64
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v: %q", err, r.stdout)
		}
		if got.Header["alg"] != "HS256" || got.Claims["id"] != "alice" || got.Session != session || got.Verify != "valid" ||
			got.Redis.State != "live" || got.Redis.TTLSeconds < 890 || got.Redis.TTLSeconds > 900 {
			t.Errorf("JSON %+v", got)
		}
	})
	t.Run("short key is a usage error", func(t *testing.T) {
		r := inv{env: []string{"RJWT_SECRET=short"}}.run(t, args(token)...).want(t, exitUsage)
		if strings.Contains(r.stderr, "short") {
			t.Errorf("the key was echoed: %q", r.stderr)
		}
	})
	t.Run("expired", func(t *testing.T) {
		// A token rjwt would have signed, but whose exp has passed.
		now := time.Now()
		nano := session[len("alice:"):]
		expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, rjwt.Claims{
			ID: "alice", Session: session, TTL: time.Minute,
			RegisteredClaims: jwt.RegisteredClaims{
				ID: nano, IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(-59 * time.Minute)),
			},
		}).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		r := withKey.run(t, args(expired)...).want(t, exitFailed)
		if got := line(r.stdout, "verify"); !strings.HasPrefix(got, "expired") {
			t.Errorf("verify %q", got)
		}
		if got := line(r.stdout, "expires"); !strings.Contains(got, "(59m") || !strings.HasSuffix(got, " ago)") {
			t.Errorf("expires %q", line(r.stdout, "expires"))
		}
		// Without a key: the claims say it is past its exp.
		r = runCmd(t, args(expired)...).want(t, exitFailed)
		if !strings.Contains(r.stderr, "past its exp") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		tok, sess := sign(t, c, "alice", "15 minutes")
		if err := c.Revoke(context.Background(), sess); err != nil {
			t.Fatal(err)
		}
		r := withKey.run(t, args(tok)...).want(t, exitFailed)
		if got := line(r.stdout, "verify"); !strings.HasPrefix(got, "revoked") {
			t.Errorf("verify %q", got)
		}
		if got := line(r.stdout, "redis"); !strings.HasPrefix(got, "not found") {
			t.Errorf("redis %q", got)
		}
		r = runCmd(t, append([]string{"-json"}, args(tok)...)...).want(t, exitFailed)
		if !strings.Contains(r.stdout, `"verify":"not checked (no key)"`) || !strings.Contains(r.stdout, `"redis":{"state":"not found"}`) {
			t.Errorf("stdout %q", r.stdout)
		}
		if strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("-json must print one object, got %q", r.stdout)
		}
	})
	t.Run("refresh token: decoded and looked up, signature not checked", func(t *testing.T) {
		pair, err := c.SignPair(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		r := withKey.run(t, args(pair.RefreshToken)...).want(t, exitOK)
		if got := line(r.stdout, "signature"); !strings.HasPrefix(got, "not checked (refresh token") {
			t.Errorf("signature %q\n%s", got, r.stdout)
		}
		if line(r.stdout, "type") != "refresh" || !strings.HasPrefix(line(r.stdout, "redis"), "live") {
			t.Errorf("output\n%s", r.stdout)
		}
		// Inspecting it rotated nothing: it still refreshes.
		if _, err := c.Refresh(context.Background(), pair.RefreshToken); err != nil {
			t.Errorf("the refresh token stopped working after inspect: %v", err)
		}
		claims, err := c.Verify(context.Background(), pair.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Revoke(context.Background(), claims.Session); err != nil {
			t.Fatal(err)
		}
		r = withKey.run(t, args(pair.RefreshToken)...).want(t, exitFailed)
		if !strings.HasPrefix(line(r.stdout, "redis"), "not found") {
			t.Errorf("redis %q", line(r.stdout, "redis"))
		}
	})
	t.Run("malformed", func(t *testing.T) {
		for _, bad := range []string{"abc", "a.b.c", "e30.e30", token[:len(token)/2] + "!" + token[len(token)/2+1:]} {
			r := withKey.run(t, args(bad)...)
			if r.code != exitFailed || !strings.Contains(r.stderr, "invalid token") {
				t.Errorf("%q: exit %d, stderr %q", bad, r.code, r.stderr)
			}
		}
	})
}
