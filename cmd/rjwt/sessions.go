package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rjwt/rjwt"
)

// sessionRow is one session as sessions prints it: rjwt.SessionInfo.
type sessionRow struct {
	Session    string            `json:"session"`
	ExpiresAt  *time.Time        `json:"expiresAt"`  // null: no expiry set
	TTLSeconds *int64            `json:"ttlSeconds"` // null: no expiry set
	CreatedAt  *time.Time        `json:"createdAt"`  // null: unknown (a session from before rjwt recorded it)
	LastSeen   *time.Time        `json:"lastSeen"`   // the last Verify that reached Redis
	Meta       map[string]string `json:"meta,omitempty"`
}

func newSessionRow(s rjwt.SessionInfo, now time.Time) sessionRow {
	r := sessionRow{Session: s.Session, Meta: s.Meta}
	if !s.CreatedAt.IsZero() {
		t := s.CreatedAt
		r.CreatedAt = &t
	}
	if !s.LastSeen.IsZero() {
		t := s.LastSeen
		r.LastSeen = &t
	}
	if !s.ExpiresAt.IsZero() {
		t := s.ExpiresAt
		secs := int64(t.Sub(now).Round(time.Second) / time.Second)
		r.ExpiresAt, r.TTLSeconds = &t, &secs
	}
	return r
}

// runSessions lists a user's live sessions, soonest to expire first. One
// Redis round trip (rjwt's Sessions: the user's index, never the keyspace).
func runSessions(ctx context.Context, c *cli, args []string) error {
	user := args[0]
	cn, err := c.connect(nil)
	if err != nil {
		return err
	}
	defer cn.Close()
	client := cn.client
	list, err := client.Sessions(ctx, user)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		c.warnEmptyPrefix(ctx, cn.rdb, false)
	}
	now := time.Now()
	rows := make([]sessionRow, 0, len(list))
	for _, s := range list {
		rows = append(rows, newSessionRow(s, now))
	}
	if c.json {
		return c.printJSON(struct {
			User     string       `json:"user"`
			Count    int          `json:"count"`
			Sessions []sessionRow `json:"sessions"`
		}{user, len(rows), rows})
	}
	if len(rows) == 0 {
		fmt.Fprintf(c.stdout, "no live sessions for %q\n", user)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tCREATED\tLAST SEEN\tEXPIRES\tTTL\tDEVICE")
	for _, r := range rows {
		exp, ttl := "never", "-"
		if r.ExpiresAt != nil {
			exp = r.ExpiresAt.Local().Format(timeLayout)
			ttl = human(time.Duration(*r.TTLSeconds) * time.Second)
		}
		created, seen := "-", "-"
		if r.CreatedAt != nil {
			created = r.CreatedAt.Local().Format(timeLayout)
		}
		if r.LastSeen != nil {
			seen = r.LastSeen.Local().Format(timeLayout)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Session, created, seen, exp, ttl, deviceText(r.Meta))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%d live session(s)\n", len(rows))
	return nil
}

// timeLayout is how times are shown to people: to the second, with the
// offset, in the local zone.
const timeLayout = "2006-01-02 15:04:05 -0700"

// runRevoke ends one session. Revoking a session that is not live (already
// revoked, expired, never existed) is exit 1.
func runRevoke(ctx context.Context, c *cli, args []string) error {
	session := args[0]
	cn, err := c.connect(nil)
	if err != nil {
		return err
	}
	defer cn.Close()
	client := cn.client
	err = client.Revoke(ctx, session)
	if errors.Is(err, rjwt.ErrSessionNotFound) {
		c.warnEmptyPrefix(ctx, cn.rdb, false)
		return fmt.Errorf("session %q not found: already revoked, expired, or never existed", session)
	}
	if errors.Is(err, rjwt.ErrInvalidID) {
		return fmt.Errorf("%q is not a session name (user:nanoid, as in a token's \"rjwt\" claim)", session)
	}
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(struct {
			Session string `json:"session"`
			Revoked int    `json:"revoked"`
		}{session, 1})
	}
	fmt.Fprintf(c.stdout, "revoked 1 session: %s\n", session)
	return nil
}

// runRevokeAll ends every session of a user and prints how many. A user
// with no live sessions is not an error: the count is 0.
func runRevokeAll(ctx context.Context, c *cli, args []string) error {
	user := args[0]
	cn, err := c.connect(nil)
	if err != nil {
		return err
	}
	defer cn.Close()
	client := cn.client
	n, err := client.RevokeAll(ctx, user)
	if err != nil {
		return err
	}
	if n == 0 {
		c.warnEmptyPrefix(ctx, cn.rdb, false)
	}
	if c.json {
		return c.printJSON(struct {
			User    string `json:"user"`
			Revoked int    `json:"revoked"`
		}{user, n})
	}
	fmt.Fprintf(c.stdout, "revoked %d session(s) of %q\n", n, user)
	return nil
}

// deviceText is a session's device details on one line: key=value pairs in
// key order, control characters dropped, cut to 60 characters.
func deviceText(meta map[string]string) string {
	if len(meta) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(k + "=" + meta[k])
	}
	out := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, b.String())
	if r := []rune(out); len(r) > 60 {
		out = string(r[:59]) + "…"
	}
	return out
}
