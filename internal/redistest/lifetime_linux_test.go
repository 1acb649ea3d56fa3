//go:build linux

package redistest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv tells a re-executed test binary to run TestLifetimeHelper.
const helperEnv = "REDISTEST_LIFETIME_HELPER"

// TestServersDieWithTheTestBinary re-executes this test binary, which starts
// one server with Start (a cleanup registered) and one with StartServer
// (stopped by no one, as Main's server is when a test crashes the binary),
// prints their pids, and then panics in a goroutine of its own (no deferred
// call, no cleanup, no TestMain epilogue runs) or is killed with SIGKILL.
// Neither server may outlive it.
func TestServersDieWithTheTestBinary(t *testing.T) {
	Need(t)
	for _, mode := range []string{"panic", "sigkill"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLifetimeHelper$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var servers []string // "pid port"
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if s, ok := strings.CutPrefix(sc.Text(), "server "); ok {
					servers = append(servers, s)
				}
				if sc.Text() == "started" {
					break
				}
			}
			if len(servers) != 2 {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the helper reported %d servers, want 2", len(servers))
			}
			if mode == "sigkill" {
				cmd.Process.Kill()
			}
			go func() {
				for sc.Scan() {
				}
			}()
			if err := cmd.Wait(); err == nil {
				t.Fatal("the helper exited 0; it should have crashed")
			}
			for _, s := range servers {
				var pid, port int
				if _, err := fmt.Sscan(s, &pid, &port); err != nil {
					t.Fatalf("%q: %v", s, err)
				}
				if err := waitFor(30*time.Second, func() error { return gone(pid, port) }); err != nil {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("server pid %d (port %d) outlived the test binary: %v", pid, port, err)
				}
			}
		})
	}
}

// TestLifetimeHelper is the re-executed side of
// TestServersDieWithTheTestBinary; run directly, it does nothing.
func TestLifetimeHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	a := Start(t)
	b, err := StartServer()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Server{a, b} {
		fmt.Printf("server %d %d\n", s.cmd.Process.Pid, s.Port)
	}
	fmt.Println("started")
	if mode == "panic" {
		go func() { panic("the lifetime helper panics") }()
	}
	select {} // killed by the panic or by the parent's SIGKILL
}

// TestServerOutlivesTheThreadThatAskedForIt: a server started from a
// goroutine locked to its thread, which then returns without unlocking (so
// Go ends that thread), keeps running: Pdeathsig fires when the thread that
// forked a process exits, so the harness forks from a thread of its own.
func TestServerOutlivesTheThreadThatAskedForIt(t *testing.T) {
	Need(t)
	type started struct {
		s   *Server
		tid int
		err error
	}
	// This goroutine keeps its thread (the main one, often) while it waits,
	// so that the one below runs on another.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ch := make(chan started)
	var st started
	for attempt := 0; st.s == nil; attempt++ {
		if attempt == 100 {
			t.Fatal("no goroutine got a thread other than the main one (which Go never ends)")
		}
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if syscall.Gettid() == os.Getpid() {
				runtime.UnlockOSThread()
				ch <- started{}
				return
			}
			s, err := StartServer()
			ch <- started{s, syscall.Gettid(), err}
		}()
		if st = <-ch; st.err != nil {
			t.Fatal(st.err)
		}
	}
	t.Cleanup(st.s.Close)
	task := "/proc/self/task/" + strconv.Itoa(st.tid)
	if err := waitFor(30*time.Second, func() error {
		if _, err := os.Stat(task); err == nil {
			return fmt.Errorf("thread %d still running (pid %d)", st.tid, os.Getpid())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Had the server been forked on that thread, SIGKILL would be on its way.
	time.Sleep(100 * time.Millisecond)
	if err := ping(st.s.Addr()); err != nil || !st.s.Alive() {
		t.Fatalf("the server died with the thread that asked for it: alive %v, ping %v", st.s.Alive(), err)
	}
}

// gone reports nil once the process pid has exited (or is a zombie waiting
// for a reaper) and nothing answers on port.
func gone(pid, port int) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err == nil {
		// pid (comm) state ...: the state follows the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X' {
			return fmt.Errorf("process %d is running (state %c)", pid, s[i+2])
		}
	}
	if ping("127.0.0.1:"+strconv.Itoa(port)) == nil {
		return fmt.Errorf("port %d still answers PING", port)
	}
	return nil
}

// TestHarnessGoroutinesNameTheHarnessGoroutines: with HarnessGoroutines
// ignored, goleak finds nothing left by starting a server, though its
// waiting goroutine (and the spawner, if this is the first server) live on.
func TestHarnessGoroutinesNameTheHarnessGoroutines(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	Start(t)
	for _, f := range HarnessGoroutines {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	if err := goleak.Find(opts...); err != nil {
		t.Errorf("HarnessGoroutines misses a harness goroutine: %v", err)
	}
}
