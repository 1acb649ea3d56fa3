// Package redistest starts private redis-server processes for tests, each on
// a free loopback port with the settings a test asks for, so tests never touch
// data they did not create. It is internal: rjwt's own test harness.
//
// Besides single servers (Start, Main) it starts a Redis Cluster of three
// masters with a replica each (StartCluster, which needs redis-cli) and a
// master and replica watched by three Sentinels (StartSentinel), both with
// timeouts short enough that a killed master is failed over in a few seconds,
// and a TCP proxy to put in front of a server that loses replies, goes silent,
// resets or refuses connections on demand (StartProxy).
//
// Every server's life is tied to the test process's: besides the cleanups
// that stop it, on Linux the kernel kills it when the test binary dies,
// however it dies (a panic in any goroutine, a timeout, SIGKILL), so a
// crashed run leaves no redis-server behind (lifetime_linux.go).
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// InstallHint says how to get redis-server when it is missing.
const InstallHint = "redis-server is not installed: the tests need a real Redis. " +
	"Install it with `sudo apt-get install redis-server` (Debian/Ubuntu), " +
	"`brew install redis` (macOS) or `dnf install redis` (Fedora), " +
	"or run ./scripts/test.sh, which installs it where it can"

// HarnessGoroutines are the functions of the harness's own goroutines that
// outlive a test on purpose, for goleak.IgnoreAnyFunction: the one waiting
// on each server process (it ends when the server does) and, on Linux, the
// one that starts every server from a thread of its own (it lives as long as
// the test binary).
var HarnessGoroutines = []string{
	"github.com/rjwt/rjwt/internal/redistest.(*Server).start.func1",
	"github.com/rjwt/rjwt/internal/redistest.spawner",
}

// Server is one redis-server process owned by a test.
type Server struct {
	Port int
	args []string
	dir  string
	bin  string   // the program; "" is redis-server
	pre  []string // arguments before the flags, e.g. a sentinel's config file

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Start starts a redis-server on a free port with the extra config args given
// (e.g. "--notify-keyspace-events", "Ex") and stops it when the test ends.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	Need(tb)
	s, err := StartServer(args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// StartServer is Start for TestMain and other places without a testing.TB;
// the caller must call Stop.
func StartServer(args ...string) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("%s", InstallHint)
	}
	return launch("redis-server", nil, func(int) ([]string, error) { return args, nil })
}

// launch starts bin in a directory of its own on a free port, retrying on
// other ports when a start fails (another process may take a free port before
// the server binds it). args is asked for the extra flags for each port
// tried, so that it can pick further free ports (a cluster bus port).
func launch(bin string, pre []string, args func(port int) ([]string, error)) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	return launchIn(dir, bin, pre, args)
}

// launchIn is launch in dir, which it removes if it fails.
func launchIn(dir, bin string, pre []string, args func(port int) ([]string, error)) (*Server, error) {
	if err := checkPrograms(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		extra, err := args(port)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s := &Server{Port: port, args: extra, dir: dir, bin: bin, pre: pre}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// Dir is the server's own working directory (its log, nodes.conf or
// sentinel config live there).
func (s *Server) Dir() string { return s.dir }

// FreePort asks the kernel for a loopback port no one listens on.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	bin := s.bin
	if bin == "" {
		bin = "redis-server"
	}
	argv := append([]string(nil), s.pre...)
	argv = append(argv,
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", s.logFile(),
	)
	argv = append(argv, s.args...)
	cmd := exec.Command(bin, argv...)
	if err := startTied(cmd); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s on port %d exited at start: %s", bin, s.Port, s.logTail())
		default:
		}
		if err := ping(s.Addr()); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("%s on port %d did not answer PING within 10s: %s", bin, s.Port, s.logTail())
}

// Restart starts the server again on the same port with the same settings,
// after Stop or Kill.
func (s *Server) Restart() error {
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after a kill
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Stop kills the process and waits for it to exit. It is safe to call twice.
func (s *Server) Stop() {
	s.kill()
}

// Kill is Stop: the server dies at once, as in a crash, and clients see
// their connections drop.
func (s *Server) Kill() { s.kill() }

func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	killTied(cmd.Process)
	<-done
}

// Close stops the server and removes its working directory.
func (s *Server) Close() {
	s.kill()
	os.RemoveAll(s.dir)
}

// Alive reports whether the server's process is running: it was started and
// not stopped, killed, or dead of its own accord.
func (s *Server) Alive() bool {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (s *Server) logFile() string {
	return filepath.Join(s.dir, "redis-"+strconv.Itoa(s.Port)+".log")
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logFile())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// ping sends a RESP PING and waits for +PONG.
func ping(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// Main runs a test package against one private redis-server, started before
// the tests and stopped after them. addr receives the server's address. It
// also stops what the tests started with Shared.
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m, &redisAddr) }
//
// Without redis-server the tests still run, so that the unit tests that need
// no Redis (TTLs, keys, tokens) pass; addr then names a port no one listens
// on, every test that needs Redis fails, and the run fails with the install
// hint.
func Main(m *testing.M, addr *string, args ...string) {
	if !Installed() && os.Getenv(requireEnv) != "1" {
		// The tests that need Redis skip (Need); the rest run.
		fmt.Fprintln(os.Stderr, "redistest: no redis-server on PATH: the tests that need Redis skip and the examples do not run; ./scripts/test.sh installs it and runs them all")
		port, err := FreePort()
		if err != nil {
			os.Exit(1)
		}
		*addr = "127.0.0.1:" + strconv.Itoa(port) // nothing listens there
		skipExamples()
		os.Exit(m.Run())
	}
	s, err := StartServer(args...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "redistest:", err)
		port, perr := FreePort()
		if perr != nil {
			os.Exit(1)
		}
		*addr = "127.0.0.1:" + strconv.Itoa(port)
		m.Run()
		fmt.Fprintln(os.Stderr, "redistest:", err)
		os.Exit(1)
	}
	*addr = s.Addr()
	// For Examples, which read REDIS_URL as an application would.
	os.Setenv("REDIS_URL", "redis://"+*addr)
	code := m.Run()
	closeShared()
	s.Close()
	os.Exit(code)
}
