package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// expectEnv names the variable that says which server the programs on PATH
// must be, as "<name> <version prefix>": "redis 8.0.", "valkey 8.1.".
// scripts/test.sh sets it for each server of its matrix, so that a wrong
// PATH (the host's Redis found first, a wrapper gone stale) fails every test
// that starts a server instead of passing as the wrong one.
const expectEnv = "RJWT_EXPECT_SERVER"

var programs struct {
	once sync.Once
	desc string // what the programs are, for the log and errors
	err  error
}

// checkPrograms asks redis-server, redis-sentinel (where installed) and
// redis-cli what they are, once per test binary, logs it on stderr, and
// fails when RJWT_EXPECT_SERVER is set and one of them is something else.
func checkPrograms() error {
	programs.once.Do(func() {
		programs.desc, programs.err = describePrograms(os.Getenv(expectEnv))
		if programs.desc != "" {
			fmt.Fprintln(os.Stderr, "redistest:", programs.desc)
		}
	})
	return programs.err
}

// ServerVersion is what redis-server on PATH says it is: "redis 7.0.15",
// "valkey 8.1.1". Tests decide by probing what a server does, not by this;
// it is for messages.
func ServerVersion() (string, error) { return programVersion("redis-server") }

func describePrograms(expect string) (string, error) {
	var parts, wrong []string
	dir := ""
	for _, p := range []string{"redis-server", "redis-sentinel", "redis-cli"} {
		path, err := exec.LookPath(p)
		if err != nil {
			if p == "redis-sentinel" { // StartSentinel falls back to redis-server --sentinel
				continue
			}
			return "", fmt.Errorf("redistest: %s is not on PATH", p)
		}
		v, err := programVersion(path)
		if err != nil {
			return "", err
		}
		parts = append(parts, p+" is "+v)
		if dir == "" {
			dir = filepath.Dir(path)
		}
		if expect != "" && !strings.HasPrefix(v, expect) {
			wrong = append(wrong, fmt.Sprintf("%s (%s) is %s", p, path, v))
		}
	}
	desc := strings.Join(parts, ", ") + " (from " + dir + ")"
	if len(wrong) > 0 {
		return desc, fmt.Errorf("redistest: %s=%q, but %s: check PATH (scripts/servers.sh puts the servers it fetches in bin directories of their own)",
			expectEnv, expect, strings.Join(wrong, "; "))
	}
	return desc, nil
}

// programVersion runs prog --version and names what it says: "Redis server
// v=8.0.2 ..." and "redis-cli 8.0.2" are "redis 8.0.2", "Valkey server
// v=8.1.1 ..." and "valkey-cli 8.1.1" are "valkey 8.1.1".
func programVersion(prog string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("redistest: %s --version: %v", prog, err)
	}
	v, ok := parseVersion(string(out))
	if !ok {
		return "", fmt.Errorf("redistest: %s --version answered %q, which names no Redis or Valkey version", prog, strings.TrimSpace(string(out)))
	}
	return v, nil
}

func parseVersion(out string) (string, bool) {
	f := strings.Fields(out)
	if len(f) < 2 {
		return "", false
	}
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(f[0]), "-cli"), "-server"))
	if name != "redis" && name != "valkey" {
		return "", false
	}
	v := f[1]
	for _, w := range f[1:] {
		if rest, ok := strings.CutPrefix(w, "v="); ok {
			v = rest
			break
		}
	}
	if v == "" || v[0] < '0' || v[0] > '9' {
		return "", false
	}
	return name + " " + v, true
}
