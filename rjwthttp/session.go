package rjwthttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rjwt/rjwt"
)

// Session is the private data of the request's session, as koa's ctx.session:
// a JSON object whose fields handlers read and change. Changes are saved to
// Redis in one round trip before the response's headers are written; a failed
// save answers 503 (or 401 if the session ended meanwhile, 400 if the data
// grew over the client's limit) instead of the handler's response, so nothing
// is lost silently. A Session belongs to one
// request: it is not for use from other goroutines after the handler returns.
//
// Once the response's headers are written the session is saved and sealed:
// Set and Delete then return ErrSessionSealed rather than make a change that
// would never reach Redis.
type Session struct {
	client *rjwt.Client
	name   string
	raw    json.RawMessage
	mu     sync.Mutex
	data   map[string]json.RawMessage
	dirty  bool
	sealed bool
}

// SessionFromContext returns the request's session data handle. It exists
// when the middleware runs WithSessionData.
func SessionFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey).(*Session)
	return s, ok
}

// Name is the session's name, "id:nanoid".
func (s *Session) Name() string { return s.name }

func (s *Session) load() error {
	if s.data != nil {
		return nil
	}
	s.data = map[string]json.RawMessage{}
	if len(s.raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(s.raw, &s.data); err != nil {
		s.data = nil
		return fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	return nil
}

// Get decodes field key into v. It reports false when there is no such field.
func (s *Session) Get(key string, v any) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return false, err
	}
	raw, ok := s.data[key]
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// Set sets field key to v, JSON-encoded. After the response's headers are
// written it returns ErrSessionSealed.
func (s *Session) Set(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return ErrSessionSealed
	}
	if err := s.load(); err != nil {
		return err
	}
	s.data[key] = b
	s.dirty = true
	return nil
}

// Delete removes field key. After the response's headers are written it
// returns ErrSessionSealed.
func (s *Session) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return ErrSessionSealed
	}
	if err := s.load(); err != nil {
		return err
	}
	if _, ok := s.data[key]; ok {
		delete(s.data, key)
		s.dirty = true
	}
	return nil
}

// save writes the data back if it changed (one round trip) and seals the
// session: it runs once, when the headers go out or the handler returns.
func (s *Session) save(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
	if !s.dirty {
		return nil
	}
	if err := s.client.SetSessionData(ctx, s.name, s.data); err != nil {
		return err
	}
	s.dirty = false
	return nil
}

// saveWriter saves the session just before the response's headers go out.
type saveWriter struct {
	http.ResponseWriter
	s      *Session
	r      *http.Request
	errs   *errorConfig
	wrote  bool
	failed bool
}

func (w *saveWriter) before() bool {
	if w.wrote {
		return !w.failed
	}
	w.wrote = true
	if err := w.s.save(w.r.Context()); err != nil {
		w.failed = true
		// Replace the handler's response: its changes were not kept.
		h := w.ResponseWriter.Header()
		for k := range h {
			delete(h, k)
		}
		w.errs.answer(w.ResponseWriter, w.r, err)
		return false
	}
	return true
}

func (w *saveWriter) WriteHeader(status int) {
	if w.before() {
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *saveWriter) Write(b []byte) (int, error) {
	if !w.before() {
		return 0, errSaveFailed
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush; the session is saved first.
func (w *saveWriter) Flush() {
	if w.before() {
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *saveWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var errSaveFailed = errors.New("rjwthttp: session not saved; response replaced")

// slideTracker remembers when each session was last extended, so sliding
// happens at most once per interval. Entries older than the interval are
// swept as it goes, so it holds at most the sessions seen in one interval.
type slideTracker struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	swept    time.Time
}

func newSlideTracker(interval time.Duration) *slideTracker {
	return &slideTracker{interval: interval, last: map[string]time.Time{}, swept: time.Now()}
}

func (t *slideTracker) due(session string) bool {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.swept) > t.interval {
		for k, at := range t.last {
			if now.Sub(at) >= t.interval {
				delete(t.last, k)
			}
		}
		t.swept = now
	}
	if at, ok := t.last[session]; ok && now.Sub(at) < t.interval {
		return false
	}
	t.last[session] = now
	return true
}

func (t *slideTracker) forget(session string) {
	t.mu.Lock()
	delete(t.last, session)
	t.mu.Unlock()
}
