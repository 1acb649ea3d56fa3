package dpoptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NeedNode makes sure Node.js, npm and the interop script's locked
// dependencies (panva's dpop and jose, installed by `npm ci` into dir's
// node_modules, which git ignores) are at hand for an interop test. Without
// them t is skipped, unless RJWT_REQUIRE_NODE=1 (CI) makes that a failure.
func NeedNode(t testing.TB, dir string) {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("RJWT_REQUIRE_NODE") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (set RJWT_REQUIRE_NODE=1 to make this a failure)", args...)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			skip("DPoP interop with panva's dpop and jose needs %s (Node.js 20 or later) on PATH", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "dpop")); err == nil {
		return
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--cache", filepath.Join(cache, "rjwt-npm"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		skip("npm ci in %s failed: %v\n%s", dir, err, out)
	}
}
