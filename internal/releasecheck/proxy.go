// Package releasecheck checks the release steps of RELEASING.md before they
// are taken. It builds a file-based module proxy (the GOPROXY protocol,
// https://go.dev/ref/mod#goproxy-protocol) holding every module of this
// repository at the version the steps would tag, zipped with
// golang.org/x/mod/zip as the real proxy would zip the tagged commit; its
// tests then fetch each module from that proxy alone, in a fresh consumer
// module, and build it.
//
// It is a module of its own so that golang.org/x/mod stays out of rjwt's
// module graph, and it sits under internal/ because it is never published.
package releasecheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// Module is one module of the repository: its module path and the absolute
// directory holding its go.mod.
type Module struct {
	Path string
	Dir  string
}

// Modules finds the published modules of the repository at root: every
// go.mod file, skipping hidden directories, testdata, modules under an
// internal directory (which no one outside the repository can import, this
// one among them) and under examples (the demo's browser test, a module only
// so that its browser driver stays out of the root's graph). Nested modules added later are found the same way. The
// root module comes first, the others in path order.
func Modules(root string) ([]Module, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var mods []Module
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "testdata" || name == "internal" || name == "examples" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		path := modfile.ModulePath(data)
		if path == "" {
			return fmt.Errorf("%s: no module line", p)
		}
		mods = append(mods, Module{Path: path, Dir: filepath.Dir(p)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(mods, func(a, b Module) int {
		switch {
		case a.Dir == root:
			return -1
		case b.Dir == root:
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	if len(mods) == 0 || mods[0].Dir != root {
		return nil, fmt.Errorf("no go.mod at %s", root)
	}
	return mods, nil
}

// WriteProxy writes to dir a module proxy tree holding each module at
// version: @v/list, @v/<version>.info, .mod and .zip. The zip holds the
// files git would commit (tracked and untracked files, not ignored ones)
// that belong in the module, so it shows what tagging the checkout as it is
// now would publish.
func WriteProxy(dir string, mods []Module, version string, at time.Time) error {
	for _, m := range mods {
		if err := writeModule(dir, m, version, at); err != nil {
			return fmt.Errorf("%s: %w", m.Path, err)
		}
	}
	return nil
}

func writeModule(dir string, m Module, version string, at time.Time) error {
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	vdir := filepath.Join(dir, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(m.Dir, "go.mod"))
	if err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, at.UTC()})
	if err != nil {
		return err
	}
	files, err := committable(m.Dir)
	if err != nil {
		return err
	}
	var z bytes.Buffer
	if err := zip.Create(&z, module.Version{Path: m.Path, Version: version}, files); err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": info,
		version + ".mod":  gomod,
		version + ".zip":  z.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// committable lists the files under dir that a commit would hold: tracked
// files still present and untracked files git does not ignore. zip.Create
// leaves out those of nested modules.
func committable(dir string) ([]zip.File, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w: %s", dir, err, stderr.Bytes())
	}
	var files []zip.File
	seen := map[string]bool{}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" || seen[rel] {
			continue
		}
		seen[rel] = true
		abs := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(abs)
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			return nil, err
		}
		files = append(files, diskFile{rel: rel, abs: abs, fi: fi})
	}
	return files, nil
}

type diskFile struct {
	rel, abs string
	fi       os.FileInfo
}

func (f diskFile) Path() string                 { return f.rel }
func (f diskFile) Lstat() (os.FileInfo, error)  { return f.fi, nil }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(f.abs) }
