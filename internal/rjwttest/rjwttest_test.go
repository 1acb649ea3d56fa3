package rjwttest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/rjwttest"
)

var redisAddr string

func TestMain(m *testing.M) { redistest.Main(m, &redisAddr) }

func TestNewClient(t *testing.T) {
	ctx := context.Background()
	a := rjwttest.NewClient(t, redisAddr)
	b := rjwttest.NewClient(t, redisAddr)
	pa, pb := rjwttest.Prefix(a), rjwttest.Prefix(b)
	if pa == pb {
		t.Fatalf("two clients share the prefix %q", pa)
	}
	if !strings.HasPrefix(pa, "test:TestNewClient:") || !strings.HasSuffix(pa, ":") {
		t.Fatalf("prefix %q does not name the test", pa)
	}

	token, err := a.Sign(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(ctx, token); err != nil {
		t.Fatalf("Verify on the signing client: %v", err)
	}
	keys, err := a.Redis().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var mine int
	for _, k := range keys {
		if strings.HasPrefix(k, pa) {
			mine++
		}
		if strings.HasPrefix(k, pb) {
			t.Errorf("key %q of a is under b's prefix", k)
		}
	}
	if mine == 0 {
		t.Fatalf("no key under %q after Sign; keys: %v", pa, keys)
	}

	// The same Secret, another prefix: b checks a's signature but has no session.
	if _, err := b.Verify(ctx, token); !errors.Is(err, rjwt.ErrSessionNotFound) {
		t.Fatalf("b.Verify of a's token = %v, want ErrSessionNotFound (its own prefix)", err)
	}
	other, err := rjwt.New(rjwt.WithSecret(rjwttest.Secret), rjwt.WithAddr(redisAddr), rjwt.WithPrefix(pa))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Verify(ctx, token); err != nil {
		t.Fatalf("a client with Secret and a's prefix: %v", err)
	}
}

func TestSubtestNamesAreSafe(t *testing.T) {
	t.Run("a b*c?[d]{e}", func(t *testing.T) {
		p := rjwttest.Prefix(rjwttest.NewClient(t, redisAddr))
		if !strings.HasPrefix(p, "test:TestSubtestNamesAreSafe:a_b_c__d__e_:") || strings.ContainsAny(p, " *?[]{}") {
			t.Fatalf("prefix %q", p)
		}
	})
}

func TestClosedWhenTheTestEnds(t *testing.T) {
	redistest.Need(t)
	var c *rjwt.Client
	t.Run("sub", func(t *testing.T) { c = rjwttest.NewClient(t, redisAddr) })
	if err := c.Redis().Ping(context.Background()).Err(); err == nil {
		t.Fatal("the client's Redis connection still works after its test ended")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Prefix of a client whose test ended did not panic")
		}
	}()
	rjwttest.Prefix(c)
}

func TestPrefixOfAForeignClientPanics(t *testing.T) {
	c, err := rjwt.New(rjwt.WithSecret(rjwttest.Secret), rjwt.WithAddr(redisAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() {
		if recover() == nil {
			t.Fatal("Prefix of a client not made by NewClient did not panic")
		}
	}()
	rjwttest.Prefix(c)
}
