//go:build !linux

package redistest

import (
	"os"
	"os/exec"
)

// startTied starts cmd. Outside Linux there is no Pdeathsig: a server
// outlives a test binary that crashes or is killed (its cleanups stop it
// otherwise).
func startTied(cmd *exec.Cmd) error { return cmd.Start() }

// killTied kills the server.
func killTied(p *os.Process) { p.Kill() }
