// Command structure prints the structure figures issue 17 sets bars for,
// measured from the code: non-test lines of the root package, the longest
// non-test file of the library (root, internal/, rjwthttp/), the fields of
// Client, and the longest functions. Run from the repository's root:
//
//	go run ./scripts/structure
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type fn struct {
	name  string
	lines int
}

func main() {
	fset := token.NewFileSet()
	rootLines, maxFile, maxName := 0, 0, ""
	var fns []fn
	clientFields := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		lib := filepath.Dir(path) == "." || strings.HasPrefix(path, "internal/") || strings.HasPrefix(path, "rjwthttp/")
		if !lib || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n := strings.Count(string(src), "\n")
		if filepath.Dir(path) == "." {
			rootLines += n
		}
		if n > maxFile {
			maxFile, maxName = n, path
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Body == nil {
					continue
				}
				l := fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					name = fmt.Sprintf("(%s).%s", recv(d.Recv.List[0].Type), name)
				}
				fns = append(fns, fn{path + ": " + name, l})
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok || ts.Name.Name != "Client" || filepath.Dir(path) != "." {
						continue
					}
					if st, ok := ts.Type.(*ast.StructType); ok {
						for _, f := range st.Fields.List {
							clientFields += max(len(f.Names), 1)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].lines > fns[j].lines })
	fmt.Printf("root package, non-test lines:  %d (bar 4,000)\n", rootLines)
	fmt.Printf("longest library file:          %s, %d lines (bar 450)\n", maxName, maxFile)
	fmt.Printf("Client fields:                 %d (bar 12)\n", clientFields)
	fmt.Printf("functions over 80 lines:\n")
	for _, f := range fns {
		if f.lines <= 80 {
			break
		}
		fmt.Printf("  %4d  %s\n", f.lines, f.name)
	}
}

func recv(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return "*" + recv(t.X)
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return recv(t.X)
	}
	return "?"
}
