package rjwtgin

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// writer is the gin.ResponseWriter the handlers behind Middleware write
// through. Like gin's own it holds the status until the first write; it
// writes to rjwthttp's writer (to), which saves the session just before the
// headers go out and, when the save fails, answers the error to gin's writer
// instead. Hijack, CloseNotify and Pusher are gin's writer's.
type writer struct {
	gin.ResponseWriter // gin's writer, which to writes to in the end
	to                 http.ResponseWriter
	status             int
	size               int // -1: headers not written
}

var _ gin.ResponseWriter = (*writer)(nil)

func (w *writer) WriteHeader(code int) {
	if code > 0 && !w.Written() {
		w.status = code
	}
}

func (w *writer) WriteHeaderNow() {
	if !w.Written() {
		w.size = 0
		w.to.WriteHeader(w.status)
	}
}

func (w *writer) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	n, err := w.to.Write(b)
	w.size += n
	return n, err
}

func (w *writer) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	n, err := io.WriteString(w.to, s)
	w.size += n
	return n, err
}

// Status is the status the handlers set until the headers are written, and
// then the one gin's writer sent: rjwthttp's answer when a save failed.
func (w *writer) Status() int {
	if w.Written() {
		return w.ResponseWriter.Status()
	}
	return w.status
}

func (w *writer) Size() int {
	if w.Written() {
		return w.ResponseWriter.Size()
	}
	return -1
}

func (w *writer) Written() bool { return w.size != -1 }

func (w *writer) Flush() {
	w.WriteHeaderNow()
	if f, ok := w.to.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController rjwthttp's writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.to }
