package rjwt_test

import (
	"errors"
	"testing"

	"github.com/rjwt/rjwt"
)

func TestCheckSignOptions(t *testing.T) {
	if err := rjwt.CheckSignOptions(rjwt.WithTTL("15 minutes"), rjwt.WithDataToken(map[string]string{"role": "admin"}), nil); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	if err := rjwt.CheckSignOptions(rjwt.WithTTL("15 minuts")); !errors.Is(err, rjwt.ErrInvalidTTL) {
		t.Fatalf("a TTL that does not parse: %v, want ErrInvalidTTL", err)
	}
	if err := rjwt.CheckSignOptions(rjwt.WithDataToken(func() {})); err == nil {
		t.Fatal("data that does not encode passed")
	}
}
