package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/rjwt/rjwt/internal/redistest"
)

type statsJSON struct {
	Prefix     string
	Sessions   int64
	Users      int64
	Indexes    int64
	LeanHashes int64
	OtherKeys  int64
	DBKeys     int64
	Scan       struct {
		Calls int
		Note  string
	}
	Memory *struct {
		SampledSessions int
		SessionBytes    int64
		SampledIndexes  int
		IndexBytes      int64
		BytesPerSession int64
	}
	Config      map[string]string
	ConfigError string
	Warnings    []string
	Notes       []string
}

func stats(t *testing.T, addr, prefix string) statsJSON {
	t.Helper()
	r := runCmd(t, "-redis", addr, "-prefix", prefix, "-json", "stats").want(t, exitOK)
	var s statsJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("%v: %q", err, r.stdout)
	}
	return s
}

func TestStatsCountsSessionsAndUsersUnderThePrefix(t *testing.T) {
	t.Parallel()
	// Glob characters in the prefix are literal: "glob*[x]:" must not match
	// the keys of "globber[x]:", which sit in the same database.
	p := "t-stats-glob*[x]:"
	c := app(t, redisAddr, p)
	sign(t, c, "alice", "1 hour")
	sign(t, c, "alice", "1 hour")
	sign(t, c, "{bob}", "1 hour") // escaped inside the braces
	neighbour := app(t, redisAddr, "t-stats-globber[x]:")
	sign(t, neighbour, "carol", "1 hour")
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), p+"something-else", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s := stats(t, redisAddr, p)
	if s.Prefix != p || s.Sessions != 3 || s.Users != 2 || s.Indexes != 2 || s.OtherKeys != 1 {
		t.Errorf("stats %+v: want 3 sessions, 2 users, 2 indexes, 1 other key", s)
	}
	if s.DBKeys < 7 || s.Scan.Calls < 1 || !strings.Contains(s.Scan.Note, "O(keyspace)") {
		t.Errorf("scan %+v, dbKeys %d", s.Scan, s.DBKeys)
	}
	if m := s.Memory; m == nil || m.SampledSessions != 3 || m.SampledIndexes != 2 || m.SessionBytes <= 0 || m.BytesPerSession <= m.SessionBytes {
		t.Errorf("memory %+v", s.Memory)
	}
	if s.Config["maxmemory-policy"] != "noeviction" || len(s.Warnings) != 0 {
		t.Errorf("config %v, warnings %q", s.Config, s.Warnings)
	}

	r := runCmd(t, "-redis", redisAddr, "-prefix", p, "stats").want(t, exitOK)
	for _, want := range []string{"live sessions  ", "users  ", "O(keyspace)", "bytes per session", "maxmemory-policy  ", `"noeviction"`, "note: 1 key(s) under the prefix"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := line(r.stdout, "live sessions"); got != "3" {
		t.Errorf("live sessions %q", got)
	}
}

func TestStatsWarnsAboutSettingsThatBreakRjwt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		warning string // "" for none
		note    string
		config  bool
	}{
		{"allkeys evicts indexes", []string{"--maxmemory-policy", "allkeys-lru"}, "maxmemory-policy allkeys-lru can evict any key, including a user's index", "", true},
		{"volatile is a note", []string{"--maxmemory-policy", "volatile-lru", "--notify-keyspace-events", "Kgx"}, "", "maxmemory-policy volatile-lru evicts only keys with a TTL", true},
		{"CONFIG refused is a warning, not a failure", []string{"--rename-command", "CONFIG", ""}, "CONFIG GET refused", "", false},
		{"keyspace events off is a note", []string{"--notify-keyspace-events", "Ex"}, "", `notify-keyspace-events is "xE", without all of Kgx`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, tc.args...)
			p := prefix(t)
			sign(t, app(t, srv.Addr(), p), "alice", "1 hour")
			s := stats(t, srv.Addr(), p)
			if s.Sessions != 1 || s.Users != 1 {
				t.Errorf("stats %+v", s)
			}
			if tc.warning == "" && len(s.Warnings) != 0 || tc.warning != "" && (len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], tc.warning)) {
				t.Errorf("warnings %q, want %q", s.Warnings, tc.warning)
			}
			if tc.note != "" && !strings.Contains(strings.Join(s.Notes, "\n"), tc.note) {
				t.Errorf("notes %q, want %q", s.Notes, tc.note)
			}
			if (s.Config != nil) != tc.config || (s.ConfigError != "") == tc.config {
				t.Errorf("config %v, configError %q", s.Config, s.ConfigError)
			}
			if tc.warning != "" {
				r := runCmd(t, "-redis", srv.Addr(), "-prefix", p, "stats").want(t, exitOK)
				if !strings.Contains(r.stdout, "warning: "+tc.warning) {
					t.Errorf("text output lacks the warning:\n%s", r.stdout)
				}
			}
		})
	}
}
