//go:build linux

package redistest

import (
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// On Linux a server's life is tied to the test process's: it is started with
// Pdeathsig SIGKILL, so the kernel kills it when the process that started it
// dies, whether the test binary exits, panics, times out or is killed with
// SIGKILL, and none of its deferred calls or cleanups run. It also gets a
// process group of its own (Setpgid), so that a terminal's Ctrl-C reaches
// the test binary, which then stops it in order, and so that Stop kills
// what the server forked along with it.
//
// Pdeathsig fires when the *thread* that forked the child exits, not the
// process: a Go thread exits when a goroutine that locked it returns without
// unlocking, and any goroutine may run on any thread. So every server is
// forked by one goroutine locked to its own thread for the life of the
// process (spawner), which never returns.

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

// startTied starts cmd tied to the test process's life.
func startTied(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go spawner(spawnRequests)
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnRequests <- req
	return <-req.done
}

// spawner forks every server from one thread that lives as long as the
// process: it locks it and never returns.
func spawner(reqs <-chan spawnRequest) {
	runtime.LockOSThread()
	for req := range reqs {
		req.done <- req.cmd.Start()
	}
}

// killTied kills the server's process group (the server and anything it
// forked), then the server itself should the group be gone already.
func killTied(p *os.Process) {
	syscall.Kill(-p.Pid, syscall.SIGKILL)
	p.Kill()
}
