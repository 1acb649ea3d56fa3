package rjwthttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/redistest"
	"github.com/rjwt/rjwt/rjwthttp"
)

// TestRedisKnownDownIsAFast503: once rjwt knows Redis is down, a request is
// answered 503 at once instead of holding its goroutine for the call's
// timeout.
func TestRedisKnownDownIsAFast503(t *testing.T) {
	srv := redistest.Start(t)
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(srv.Addr()), rjwt.WithHealthCheck(100*time.Millisecond))
	require.NoError(t, err)
	defer c.Close()
	tok, err := c.Sign(context.Background(), "fast503")
	require.NoError(t, err)
	h := rjwthttp.Middleware(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	srv.Kill()
	require.Eventually(t, func() bool { // the health check notices
		start := time.Now()
		_, err := c.Verify(context.Background(), tok)
		return errors.Is(err, rjwt.ErrUnavailable) && time.Since(start) < 5*time.Millisecond
	}, 5*time.Second, 20*time.Millisecond)
	const n = 200
	took := make([]time.Duration, n)
	for i := range n {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		took[i] = time.Since(start)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("503 with Redis known down: p50 %v, p99 %v", took[n/2], took[n*99/100])
	assert.Less(t, took[n/2], 20*time.Millisecond, "answered at once (generous bound for CI)")
}
