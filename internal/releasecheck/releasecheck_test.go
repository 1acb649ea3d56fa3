package releasecheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// version is the version RELEASING.md tags every module with.
const version = "v0.1.0"

const rootPath = "github.com/rjwt/rjwt"

// heavy names modules a consumer of rjwt and rjwthttp must not see in its
// module graph: the benchmark's plotting, PDF and font stack, and
// OpenTelemetry (rjwtotel's).
var heavy = []string{
	"gonum.org/v1/plot",
	"codeberg.org/go-pdf/fpdf",
	"github.com/go-pdf/fpdf",
	"codeberg.org/go-fonts/",
	"github.com/go-fonts/",
	"codeberg.org/go-latex/",
	"github.com/go-latex/",
	"git.sr.ht/~sbinet/gg",
	"github.com/ajstarks/svgo",
	"github.com/golang/freetype",
	"golang.org/x/image",
	"go.opentelemetry.io/",
}

var (
	setupOnce sync.Once
	setupErr  error
	mods      []Module
	baseEnv   []string
	tmpRoot   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// setup builds the proxy once for every test: the repository's modules at
// version, then, behind it, the local module cache (itself a proxy tree,
// so that modules already downloaded need no network) and the proxies of
// `go env GOPROXY`. The consumers get a module cache of their own, so that
// the made-up v0.1.0 never enters the real one, and no checksum database
// lookups for rjwt's modules (they were never published).
func setup(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() { setupErr = build() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func build() error {
	var err error
	if mods, err = Modules("../.."); err != nil {
		return err
	}
	if tmpRoot, err = os.MkdirTemp("", "rjwt-releasecheck-"); err != nil {
		return err
	}
	proxy := filepath.Join(tmpRoot, "proxy")
	if err := WriteProxy(proxy, mods, version, time.Now()); err != nil {
		return err
	}
	goenv := func(name string) (string, error) {
		out, err := exec.Command("go", "env", name).Output()
		return strings.TrimSpace(string(out)), err
	}
	realProxy, err := goenv("GOPROXY")
	if err != nil {
		return err
	}
	modcache, err := goenv("GOMODCACHE")
	if err != nil {
		return err
	}
	proxies := []string{"file://" + filepath.ToSlash(proxy)}
	if modcache != "" {
		proxies = append(proxies, "file://"+filepath.ToSlash(filepath.Join(modcache, "cache", "download")))
	}
	if realProxy != "" && realProxy != "off" {
		proxies = append(proxies, realProxy)
	}
	baseEnv = append(os.Environ(),
		"GOPROXY="+strings.Join(proxies, ","),
		"GOMODCACHE="+filepath.Join(tmpRoot, "modcache"),
		"GONOSUMDB="+rootPath,
		"GOPRIVATE=", "GONOPROXY=",
		// -trimpath: the build cache serves packages built before, though
		// their sources now sit in another module cache.
		"GOFLAGS=-mod=mod -modcacherw -trimpath",
		"GOWORK=off",
		"GOTOOLCHAIN=local",
	)
	return nil
}

// goCmd runs the go command in dir with the proxy's environment.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = baseEnv
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("go %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out.Bytes(), stderr.Bytes())
	}
	return out.String()
}

// consumer makes a fresh module outside the repository.
func consumer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	goCmd(t, dir, "mod", "init", "example.com/consumer")
	return dir
}

func TestModulesAreFound(t *testing.T) {
	setup(t)
	got := map[string]bool{}
	for _, m := range mods {
		got[m.Path] = true
	}
	for _, want := range []string{rootPath, rootPath + "/rjwtotel", rootPath + "/cmd/rjwt-bench"} {
		if !got[want] {
			t.Errorf("module %s not found; found %v", want, mods)
		}
	}
	if got[rootPath+"/internal/releasecheck"] {
		t.Errorf("the release check is not published, but was found: %v", mods)
	}
}

// TestEachModuleInstallsAlone: a fresh consumer gets each module at the
// version RELEASING.md tags, with nothing else required first, and builds
// all of its packages; each nested module resolves the root from the proxy
// at that version (not from a replace, which is ignored in a dependency).
func TestEachModuleInstallsAlone(t *testing.T) {
	setup(t)
	for _, m := range mods {
		name := strings.TrimPrefix(m.Path, rootPath+"/")
		if m.Path == rootPath {
			name = "root"
		}
		t.Run(name, func(t *testing.T) {
			dir := consumer(t)
			goCmd(t, dir, "get", m.Path+"@"+version)
			goCmd(t, dir, "build", m.Path+"/...")
			list := goCmd(t, dir, "list", "-m", "all")
			for _, want := range []string{m.Path + " " + version, rootPath + " " + version} {
				if !hasLine(list, want) {
					t.Errorf("go list -m all has no %q:\n%s", want, list)
				}
			}
		})
	}
}

// TestConsumerGraphIsLean: a program importing rjwt and rjwthttp has none
// of the benchmark's plotting, PDF and font modules, nor OpenTelemetry, in
// its module graph.
func TestConsumerGraphIsLean(t *testing.T) {
	setup(t)
	dir := consumer(t)
	main := "package main\n\nimport (\n\t_ \"github.com/rjwt/rjwt\"\n\t_ \"github.com/rjwt/rjwt/rjwthttp\"\n)\n\nfunc main() {}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd(t, dir, "get", rootPath+"@"+version)
	goCmd(t, dir, "mod", "tidy")
	goCmd(t, dir, "build", "-o", os.DevNull, ".")
	list := strings.TrimSpace(goCmd(t, dir, "list", "-m", "all"))
	lines := strings.Split(list, "\n")
	for _, l := range lines {
		for _, h := range heavy {
			if strings.HasPrefix(l, h) {
				t.Errorf("consumer module graph holds %s", l)
			}
		}
	}
	t.Logf("go list -m all: %d lines", len(lines))
	if testing.Verbose() {
		fmt.Println(list)
	}
}

func hasLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
