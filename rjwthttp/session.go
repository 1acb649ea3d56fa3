package rjwthttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
// Concurrent requests of one session: the save changes only the fields this
// request set or deleted, inside Redis (rjwt's UpdateSessionData), so
// requests that change different fields all keep their changes; of two that
// set the same field, the later save wins. A counter read with Get and
// written back with Set loses counts under concurrency: use Incr.
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
	order  []string                   // fields changed, in order
	change map[string]json.RawMessage // field → new value; nil: deleted
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
	s.record(key, b)
	return nil
}

// record notes a change of field key to be saved (nil: delete).
func (s *Session) record(key string, v json.RawMessage) {
	if s.change == nil {
		s.change = map[string]json.RawMessage{}
	}
	if _, seen := s.change[key]; !seen {
		s.order = append(s.order, key)
	}
	s.change[key] = v
}

// Incr adds delta to the integer field key (a missing field counts as 0)
// and returns the sum, in Redis at once and atomically: n concurrent
// requests that each add 1 add n. Changes made with Set or Delete before it
// are saved first, in the same call's round trips. Unlike Set and Delete it
// works after the headers are written. Errors: rjwt.ErrDataType when the
// field is not an integer, rjwt.ErrSessionNotFound, rjwt.ErrUnavailable.
func (s *Session) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return 0, err
	}
	if err := s.flush(ctx); err != nil {
		return 0, err
	}
	n, err := s.client.IncrSessionData(ctx, s.name, key, delta)
	if err != nil {
		return 0, err
	}
	s.data[key] = json.RawMessage(strconv.FormatInt(n, 10))
	return n, nil
}

// flush saves the recorded changes, if any. s.mu is held.
func (s *Session) flush(ctx context.Context) error {
	if len(s.order) == 0 {
		return nil
	}
	changes := make([]rjwt.DataChange, 0, len(s.order))
	for _, k := range s.order {
		if v := s.change[k]; v != nil {
			changes = append(changes, rjwt.SetField(k, v))
		} else {
			changes = append(changes, rjwt.DeleteField(k))
		}
	}
	if err := s.client.UpdateSessionData(ctx, s.name, changes...); err != nil {
		return err
	}
	s.order, s.change = nil, nil
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
	delete(s.data, key)
	s.record(key, nil)
	return nil
}

// save writes the fields that changed (one round trip, none without
// changes) and seals the session: it runs once, when the headers go out or
// the handler returns.
func (s *Session) save(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
	return s.flush(ctx)
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
