package rjwthttp_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/rjwthttp"
)

var redisAddr string

func TestMain(m *testing.M) { redistest.Main(m, &redisAddr) }

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newClient(t testing.TB, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	base := []rjwt.Option{rjwt.WithSecret(testSecret), rjwt.WithAddr(redisAddr), rjwt.WithPrefix("http:" + rand.Text()[:8] + ":")}
	c, err := rjwt.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// memAccounts is a test account store. Real ones hash passwords (see the
// demo, which uses bcrypt).
type memAccounts struct {
	mu sync.Mutex
	pw map[string]string
}

func (a *memAccounts) Authenticate(_ context.Context, c rjwthttp.Credentials) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if pw, ok := a.pw[c.Account]; ok && pw == c.Password {
		return "user-" + c.Account, nil
	}
	return "", rjwthttp.ErrInvalidCredentials
}

func (a *memAccounts) Register(_ context.Context, c rjwthttp.Credentials) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pw == nil {
		a.pw = map[string]string{}
	}
	if _, ok := a.pw[c.Account]; ok {
		return "", rjwthttp.ErrAccountExists
	}
	if len(c.Password) < 4 {
		return "", rjwthttp.ErrBadInput
	}
	a.pw[c.Account] = c.Password
	return "user-" + c.Account, nil
}
