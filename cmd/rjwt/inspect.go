package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rjwt/rjwt"
)

// The verdicts of inspect's check, from Verify's errors.
const (
	verdictValid    = "valid"
	verdictBadSig   = "bad signature"
	verdictExpired  = "expired"
	verdictRevoked  = "revoked"
	verdictInvalid  = "invalid"
	verdictNoKey    = "not checked (no key)"
	verdictRefresh  = "not checked (refresh token: Verify checks access tokens only)"
	verdictNoRedis  = "not checked (redis unavailable)"
	verdictRedisErr = "not checked (redis error)"
)

// The states of a token's session in Redis.
const (
	stateLive          = "live"
	stateNotFound      = "not found"
	stateUnavailable   = "unavailable"
	stateError         = "error"
	stateNotApplicable = "n/a"
)

type inspectOut struct {
	Header json.RawMessage `json:"header"`
	Claims json.RawMessage `json:"claims"`

	User      string     `json:"user,omitempty"`
	Session   string     `json:"session,omitempty"`
	Type      string     `json:"type,omitempty"` // "access" or "refresh"
	IssuedAt  *time.Time `json:"issuedAt,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`

	// Verify is the client's Verify, in words: valid, bad signature,
	// expired, revoked, invalid, or not checked (no key, a refresh token,
	// redis unavailable).
	Verify       string `json:"verify"`
	VerifyDetail string `json:"verifyDetail,omitempty"`

	Redis redisState `json:"redis"`
}

type redisState struct {
	State      string     `json:"state"` // live, not found, unavailable, error, n/a
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	TTLSeconds *int64     `json:"ttlSeconds,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// runInspect shows a token: header and claims decoded without trusting
// them, Verify's verdict with the configured key, and its session in Redis.
// Exit 0 only for a token that is valid now. When the signature cannot be
// checked (no key, or a refresh token) exit 0 means less, and the output
// says so: the token decodes, is not past its exp, and its session is live.
func runInspect(ctx context.Context, c *cli, args []string) error {
	token := args[0]
	if token == "-" {
		line, err := bufio.NewReader(io.LimitReader(c.stdin, 1<<20)).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading the token from stdin: %w", err)
		}
		token = line
	}
	token = strings.TrimSpace(token)
	key, err := c.loadKey()
	if err != nil {
		return err
	}

	out, claims, err := decodeToken(token)
	if err != nil {
		return fmt.Errorf("invalid token: %w", err)
	}
	cn, err := c.connect(key)
	if err != nil {
		return err
	}
	defer cn.Close()
	client := cn.client

	var failure error // what makes the exit status non-zero; the first wins
	checked := false
	switch {
	case key == nil:
		out.Verify = verdictNoKey
	case out.Type == "refresh":
		// Verify takes access tokens only, and Refresh would rotate this
		// one: rjwt offers no check of a refresh token that changes nothing.
		out.Verify = verdictRefresh
	default:
		checked = true
		_, verr := client.Verify(ctx, token)
		out.Verify, out.VerifyDetail = verdict(verr)
		switch {
		case verr == nil:
		case out.Verify == verdictNoRedis, out.Verify == verdictRedisErr:
			failure = verr
		case out.Verify == verdictInvalid:
			failure = fmt.Errorf("token not valid: %s", out.VerifyDetail)
		default:
			failure = fmt.Errorf("token not valid: %s", out.Verify)
		}
	}
	if out.Verify == verdictNoRedis {
		out.Redis = redisState{State: stateUnavailable, Error: out.VerifyDetail} // no second wait
	} else {
		out.Redis = sessionState(ctx, client, claims)
	}
	switch {
	case failure != nil:
	case out.Redis.State == stateUnavailable:
		failure = fmt.Errorf("%w: %s", rjwt.ErrUnavailable, out.Redis.Error)
	case out.Redis.State == stateError:
		failure = errors.New(out.Redis.Error)
	case !checked && out.ExpiresAt != nil && out.ExpiresAt.Before(time.Now()):
		failure = errors.New("token is past its exp (signature not checked)")
	case !checked && out.Redis.State != stateLive:
		failure = fmt.Errorf("session is %s (signature not checked)", out.Redis.State)
	}

	if c.json {
		if err := c.printJSON(out); err != nil {
			return err
		}
	} else if err := printInspect(c, out); err != nil {
		return err
	}
	if failure != nil {
		return errReported{failure}
	}
	return nil
}

// decodeToken decodes a compact JWS's header and claims without checking
// anything: what the token says, not whether to believe it.
func decodeToken(token string) (inspectOut, *rjwt.Claims, error) {
	var out inspectOut
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return out, nil, fmt.Errorf("a JWT has 3 dot-separated parts, this has %d", len(parts))
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return out, nil, fmt.Errorf("header: %w", err)
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return out, nil, fmt.Errorf("claims: %w", err)
	}
	out.Header, out.Claims = header, payload
	var claims rjwt.Claims
	if err := claims.UnmarshalJSON(payload); err != nil {
		// Not rjwt's claims shape: show the raw JSON only.
		return out, nil, nil
	}
	out.User, out.Session = claims.ID, claims.Session
	out.Type = "access"
	if claims.Type != "" {
		out.Type = claims.Type
	}
	if claims.IssuedAt != nil {
		t := claims.IssuedAt.Time
		out.IssuedAt = &t
	}
	if claims.ExpiresAt != nil {
		t := claims.ExpiresAt.Time
		out.ExpiresAt = &t
	}
	return out, &claims, nil
}

// decodeSegment base64url-decodes one part of a token and checks that it is
// a JSON object, returned compacted.
func decodeSegment(s string) (json.RawMessage, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("not base64url: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("{")) {
		return nil, errors.New("not a JSON object")
	}
	return buf.Bytes(), nil
}

// verdict puts Verify's error in words. The core's sentinels tell expired
// and revoked apart; "bad signature" is one kind of ErrInvalidToken, which
// the core does not mark with a sentinel of its own, so it is recognized
// from golang-jwt's error when the chain carries it, else from the message.
func verdict(err error) (word, detail string) {
	switch {
	case err == nil:
		return verdictValid, ""
	case errors.Is(err, rjwt.ErrTokenExpired):
		return verdictExpired, err.Error()
	case errors.Is(err, rjwt.ErrSessionNotFound):
		return verdictRevoked, "signature valid, but the session is not in Redis (revoked, replaced in single mode, or expired)"
	case errors.Is(err, rjwt.ErrInvalidToken):
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) || strings.Contains(err.Error(), "signature is invalid") {
			return verdictBadSig, "the token was not signed with this key, or was altered"
		}
		return verdictInvalid, err.Error()
	case isUnavailable(err):
		return verdictNoRedis, err.Error()
	}
	return verdictRedisErr, err.Error() // Redis answered with an error (NOPERM, ...)
}

// sessionState looks the token's session up through rjwt's Sessions (the
// user's index and each session's PTTL), so inspect needs no knowledge of
// the key layout.
func sessionState(ctx context.Context, client *rjwt.Client, claims *rjwt.Claims) redisState {
	if claims == nil || claims.ID == "" || claims.Session == "" {
		return redisState{State: stateNotApplicable, Error: "the claims name no rjwt session"}
	}
	list, err := client.Sessions(ctx, claims.ID)
	switch {
	case errors.Is(err, rjwt.ErrInvalidID):
		return redisState{State: stateNotApplicable, Error: err.Error()}
	case err != nil && isUnavailable(err):
		return redisState{State: stateUnavailable, Error: err.Error()}
	case err != nil:
		return redisState{State: stateError, Error: err.Error()}
	}
	for _, s := range list {
		if s.Session != claims.Session {
			continue
		}
		r := newSessionRow(s, time.Now())
		return redisState{State: stateLive, ExpiresAt: r.ExpiresAt, TTLSeconds: r.TTLSeconds}
	}
	return redisState{State: stateNotFound}
}

func printInspect(c *cli, out inspectOut) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	now := time.Now()
	fmt.Fprintf(tw, "header\t%s\n", out.Header)
	fmt.Fprintf(tw, "claims\t%s\n", out.Claims)
	if out.User != "" {
		fmt.Fprintf(tw, "user\t%s\n", out.User)
	}
	if out.Session != "" {
		fmt.Fprintf(tw, "session\t%s\n", out.Session)
	}
	if out.Type != "" {
		fmt.Fprintf(tw, "type\t%s\n", out.Type)
	}
	if out.IssuedAt != nil {
		fmt.Fprintf(tw, "issued\t%s (%s)\n", out.IssuedAt.Local().Format(timeLayout), relative(*out.IssuedAt, now))
	}
	if out.ExpiresAt != nil {
		fmt.Fprintf(tw, "expires\t%s (%s)\n", out.ExpiresAt.Local().Format(timeLayout), relative(*out.ExpiresAt, now))
	}
	if out.Verify == verdictNoKey || out.Verify == verdictRefresh {
		fmt.Fprintf(tw, "signature\t%s\n", out.Verify)
	} else {
		line := out.Verify
		if out.VerifyDetail != "" {
			line += ": " + out.VerifyDetail
		}
		fmt.Fprintf(tw, "verify\t%s\n", line)
	}
	switch r := out.Redis; r.State {
	case stateLive:
		if r.ExpiresAt != nil {
			fmt.Fprintf(tw, "redis\tlive, TTL %s left (expires %s)\n",
				human(time.Duration(*r.TTLSeconds)*time.Second), r.ExpiresAt.Local().Format(timeLayout))
		} else {
			fmt.Fprintf(tw, "redis\tlive, no expiry set\n")
		}
	case stateNotFound:
		fmt.Fprintf(tw, "redis\tnot found: revoked, replaced in single mode, or expired\n")
	default:
		fmt.Fprintf(tw, "redis\t%s: %s\n", r.State, r.Error)
	}
	return tw.Flush()
}

// relative says how far t is from now: "in 14m59s", "in 6d23h" or "3m ago".
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d == 0 {
		return "now"
	}
	if d > 0 {
		return "in " + human(d)
	}
	return human(-d) + " ago"
}
