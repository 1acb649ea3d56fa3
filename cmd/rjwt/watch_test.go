package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// watcher runs `rjwt watch` and hands over its stdout lines.
type watcher struct {
	cmd    *exec.Cmd
	lines  chan string
	done   chan error
	stderr *strings.Builder // read it only after stop
}

func startWatch(t *testing.T, args ...string) *watcher {
	t.Helper()
	cmd := exec.Command(bin, append(args, "watch")...)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watcher{cmd: cmd, lines: make(chan string, 100), done: make(chan error, 1), stderr: &stderr}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
		w.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("watch stderr: %s", stderr.String())
		}
	})
	return w
}

// waitFor returns the first line that contains want.
func (w *watcher) waitFor(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("watch ended before printing %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("watch printed no %q within 10s", want)
		}
	}
}

// stop signals watch and requires a clean exit.
func (w *watcher) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for range w.lines { // drain until stdout closes
	}
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatalf("watch after %v: %v, want exit 0", sig, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("watch did not exit within 5s of %v", sig)
	}
}

func TestWatchPrintsARevokeAndExitsOnSIGINT(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	c := app(t, redisAddr, p)
	w := startWatch(t, "-redis", redisAddr, "-prefix", p)
	w.waitFor(t, " ready")

	_, session := sign(t, c, "alice", "1 hour")
	if err := c.Revoke(context.Background(), session); err != nil {
		t.Fatal(err)
	}
	l := w.waitFor(t, "session_revoked")
	if !strings.HasSuffix(l, "  "+session) {
		t.Errorf("line %q does not name %s", l, session)
	}
	w.stop(t, os.Interrupt)
}

func TestWatchJSONAndSIGTERM(t *testing.T) {
	t.Parallel()
	p := prefix(t)
	c := app(t, redisAddr, p)
	w := startWatch(t, "-redis", redisAddr, "-prefix", p, "-json")
	w.waitFor(t, `"type":"ready"`)

	// Another prefix's sessions are not this watch's business.
	other := app(t, redisAddr, p+"other:")
	_, skip := sign(t, other, "mallory", "1 hour")
	if err := other.Revoke(context.Background(), skip); err != nil {
		t.Fatal(err)
	}
	_, session := sign(t, c, "bob", "1 hour")
	if err := c.Revoke(context.Background(), session); err != nil {
		t.Fatal(err)
	}
	l := w.waitFor(t, "session_revoked")
	var e struct {
		Time    time.Time
		Type    string
		Session string
	}
	if err := json.Unmarshal([]byte(l), &e); err != nil {
		t.Fatalf("%v: %q", err, l)
	}
	if e.Type != "session_revoked" || e.Session != session || time.Since(e.Time) > time.Minute {
		t.Errorf("event %+v, want session_revoked of %s", e, session)
	}
	w.stop(t, syscall.SIGTERM)
}
