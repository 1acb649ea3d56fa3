package rjwthttp_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/internal/rjwttest"
	"github.com/rjwt/rjwt/rjwthttp"
)

var redisAddr string

// TestMain starts the package's redis-server and gives the examples, which
// read REDIS_URL and RJWT_SECRET as an application would, the test key.
func TestMain(m *testing.M) {
	os.Setenv("RJWT_SECRET", string(rjwttest.Secret))
	redistest.Main(m, &redisAddr)
}

var testSecret = rjwttest.Secret

// newClient makes a client on the package's Redis with a key prefix of the
// test's own (internal/rjwttest, shared by every package's tests).
func newClient(t testing.TB, opts ...rjwt.Option) *rjwt.Client {
	t.Helper()
	return rjwttest.NewClient(t, redisAddr, opts...)
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
