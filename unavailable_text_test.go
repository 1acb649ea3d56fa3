package rjwt_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
)

// Each layer is said once: a Redis that refuses connections is
// "rjwt: sign: redis unavailable: dial tcp ...", not "rjwt: sign: rjwt: ...".
func TestUnavailableSaysEachLayerOnce(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr("127.0.0.1:"+strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.Sign(ctx, "alice")
	if !errors.Is(err, rjwt.ErrUnavailable) {
		t.Fatalf("Sign with nothing listening: %v, want ErrUnavailable", err)
	}
	if msg := err.Error(); strings.Count(msg, "rjwt:") != 1 || !strings.HasPrefix(msg, "rjwt: sign: redis unavailable") {
		t.Fatalf("%q says a layer twice, or not as rjwt: sign: redis unavailable: ...", msg)
	}
}
