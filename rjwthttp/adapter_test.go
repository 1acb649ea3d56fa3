package rjwthttp_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
	"github.com/stretchr/testify/assert"
)

func TestClassified(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{rjwthttp.ErrSessionSealed, false},
		{fmt.Errorf("loading: %w", rjwt.ErrUnavailable), true},
		{rjwt.ErrSessionNotFound, true},
		{rjwthttp.ErrNoToken, true},
		{fmt.Errorf("%w: name too long", rjwthttp.ErrBadInput), true},
		{rjwthttp.ErrNoSession, true},
	} {
		assert.Equal(t, tc.want, rjwthttp.Classified(tc.err), "%v", tc.err)
	}
}

// TestMiddlewareErrorHandler: the same answer as Middleware's for the same
// options: the default WriteError, WithErrorHandler's, and 500s logged to
// WithLogger's logger.
func TestMiddlewareErrorHandler(t *testing.T) {
	c, err := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := httptest.NewRequest("GET", "/x", nil)
	unavailable := fmt.Errorf("in the handler: %w", rjwt.ErrUnavailable)

	got, want := httptest.NewRecorder(), httptest.NewRecorder()
	rjwthttp.MiddlewareErrorHandler(c)(got, req, unavailable)
	rjwthttp.WriteError(want, unavailable)
	assert.Equal(t, want.Code, got.Code)
	assert.Equal(t, http.StatusServiceUnavailable, got.Code)
	assert.Equal(t, want.Header(), got.Header())
	assert.Equal(t, want.Body.String(), got.Body.String())

	var logged bytes.Buffer
	custom := func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(418) }
	eh := rjwthttp.MiddlewareErrorHandler(c, rjwthttp.WithErrorHandler(custom),
		rjwthttp.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	rec := httptest.NewRecorder()
	eh(rec, req, errors.New("boom"))
	assert.Equal(t, 418, rec.Code)
	assert.Contains(t, logged.String(), "boom")
	assert.Contains(t, logged.String(), "path=/x")
}
