package rjwthttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// The middleware's cost over a bare Verify, measured in process (an
// httptest.ResponseRecorder, no network) against the package's private
// redis-server:
//
//	go test -run '^$' -bench . -benchmem ./rjwthttp
//
// Middleware ~ Verify (the same one round trip), MiddlewareSessionData ~
// VerifyWithSession, and MiddlewareSessionSave adds the save's round trip.

func benchToken(b *testing.B, c *rjwt.Client) string {
	b.Helper()
	tok, err := c.Sign(context.Background(), "bench", rjwt.WithTTL("1 hour"), rjwt.WithDataSession(map[string]int{"views": 0}))
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func benchHandler(b *testing.B, h http.Handler, token string) {
	b.Helper()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

var noop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func BenchmarkVerify(b *testing.B) {
	c := newClient(b)
	tok := benchToken(b, c)
	benchHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.Verify(r.Context(), rjwthttp.BearerToken(r)); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}), tok)
}

func BenchmarkMiddleware(b *testing.B) {
	c := newClient(b)
	benchHandler(b, rjwthttp.Middleware(c)(noop), benchToken(b, c))
}

func BenchmarkVerifyWithSession(b *testing.B) {
	c := newClient(b)
	tok := benchToken(b, c)
	benchHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.Verify(r.Context(), rjwthttp.BearerToken(r), rjwt.WithSession()); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}), tok)
}

func BenchmarkMiddlewareSessionData(b *testing.B) {
	c := newClient(b)
	benchHandler(b, rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := rjwthttp.SessionFromContext(r.Context())
		var views int
		if _, err := s.Get("views", &views); err != nil {
			b.Error(err)
		}
	})), benchToken(b, c))
}

func BenchmarkMiddlewareSessionSave(b *testing.B) {
	c := newClient(b)
	benchHandler(b, rjwthttp.Middleware(c, rjwthttp.WithSessionData())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := rjwthttp.SessionFromContext(r.Context())
		var views int
		if _, err := s.Get("views", &views); err != nil {
			b.Error(err)
		}
		if err := s.Set("views", views+1); err != nil {
			b.Error(err)
		}
	})), benchToken(b, c))
}
