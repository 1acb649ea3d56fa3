package redistest

import (
	"flag"
	"os"
	"os/exec"
	"testing"
)

// requireEnv names the variable that makes a missing redis-server a failure
// instead of a skip: scripts/test.sh and CI set it, so CI never skips.
const requireEnv = "RJWT_REQUIRE_REDIS"

// Installed reports whether redis-server is on PATH.
func Installed() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// Need skips the test when no redis-server is installed (it needs one), with
// a message naming ./scripts/test.sh, which installs it; with
// RJWT_REQUIRE_REDIS=1 it fails instead.
func Need(tb testing.TB) {
	tb.Helper()
	if Installed() {
		return
	}
	if os.Getenv(requireEnv) == "1" {
		tb.Fatalf("%s (and %s=1 makes that a failure)", InstallHint, requireEnv)
	}
	tb.Skipf("needs redis-server, which is not installed: ./scripts/test.sh installs it and runs every test (%s=1 turns this skip into a failure)", requireEnv)
}

// skipExamples makes the package's examples, which cannot skip and need a
// Redis, not run (go test's -skip applies to examples too).
func skipExamples() {
	f := flag.Lookup("test.skip")
	if f == nil {
		return
	}
	skip := "^Example"
	if v := f.Value.String(); v != "" {
		skip = v + "|" + skip
	}
	f.Value.Set(skip) //nolint:errcheck // a valid pattern
}
