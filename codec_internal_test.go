package rjwt

import (
	"errors"
	"testing"
	"time"
)

// The token side of a client is a value: built from options alone, it
// signs and parses with no Redis and no Client, and judges times by the
// clock it is given.
func TestCodecIsAValue(t *testing.T) {
	cfg := defaultConfig()
	if err := WithSecret([]byte("0123456789abcdef0123456789abcdef"))(&cfg); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k, err := newCodec(&cfg, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{codec: k, settings: settings{prefix: "rjwt:"}}
	claims := c.accessClaims("alice", "V1StGXR8_Z5jdHi6B-myT", "jti", nil, time.Hour, now)
	tok, err := k.signToken(claims)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.parse(tok)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got.ID != "alice" || got.Session != "alice:V1StGXR8_Z5jdHi6B-myT" {
		t.Fatalf("parsed %+v", got)
	}
	now = now.Add(2 * time.Hour) // the codec's clock, not the host's, says it expired
	if _, err := k.parse(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("two hours later by the codec's clock: %v, want ErrTokenExpired", err)
	}
}
