package rjwt_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTestifyMessagesAreFormats checks every test file of the repository,
// nested modules included, for testify calls whose msgAndArgs testify would
// misread. With two or more msgAndArgs, testify formats them as
// fmt.Sprintf(msgAndArgs[0].(string), msgAndArgs[1:]...): a first one that
// is not a string panics inside the failing assertion, which hides the
// failure and skips the test's deferred cleanup. go vet's printf check does
// not see these calls (msgAndArgs is not a format parameter), so this test
// does. It also refuses a literal message with arguments and no verb.
func TestTestifyMessagesAreFormats(t *testing.T) {
	arity := testifyArity(t)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		checked++
		for _, problem := range misusedMessages(fset, f, arity) {
			t.Error(problem)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no test files found")
	}
}

// testifyArity maps "assert.Name" and "require.Name" to the number of
// parameters before msgAndArgs, read from testify's source (the version this
// module requires).
func testifyArity(t *testing.T) map[string]int {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/stretchr/testify").Output()
	if err != nil {
		t.Fatalf("go list testify: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	arity := map[string]int{}
	fset := token.NewFileSet()
	for _, pkg := range []string{"assert", "require"} {
		files, err := filepath.Glob(filepath.Join(dir, pkg, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Recv != nil || !fn.Name.IsExported() {
					continue
				}
				params := fn.Type.Params.List
				if len(params) == 0 {
					continue
				}
				last := params[len(params)-1]
				if _, variadic := last.Type.(*ast.Ellipsis); !variadic || len(last.Names) != 1 || last.Names[0].Name != "msgAndArgs" {
					continue
				}
				n := 0
				for _, p := range params[:len(params)-1] {
					n += max(1, len(p.Names))
				}
				arity[pkg+"."+fn.Name.Name] = n
			}
		}
	}
	if arity["assert.Equal"] != 3 || arity["require.NoError"] != 2 {
		t.Fatalf("testify's signatures not read: Equal %d, NoError %d", arity["assert.Equal"], arity["require.NoError"])
	}
	return arity
}

// misusedMessages lists the testify calls in f whose msgAndArgs testify would
// misread.
func misusedMessages(fset *token.FileSet, f *ast.File, arity map[string]int) []string {
	names := map[string]string{} // local name -> assert or require
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		pkg := map[string]string{
			"github.com/stretchr/testify/assert":  "assert",
			"github.com/stretchr/testify/require": "require",
		}[path]
		if pkg == "" {
			continue
		}
		local := pkg
		if imp.Name != nil {
			local = imp.Name.Name
		}
		names[local] = pkg
	}
	if len(names) == 0 {
		return nil
	}
	var problems []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || call.Ellipsis.IsValid() {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok || names[x.Name] == "" {
			return true
		}
		fixed, ok := arity[names[x.Name]+"."+sel.Sel.Name]
		if !ok || len(call.Args) <= fixed+1 {
			return true // no msgAndArgs, or one (printed as is)
		}
		first := call.Args[fixed]
		where := fset.Position(first.Pos())
		switch {
		case !isString(first):
			problems = append(problems, where.String()+": "+x.Name+"."+sel.Sel.Name+
				": more than one msgAndArgs and the first is not a string; testify would panic formatting it")
		case isLiteral(first) && !strings.Contains(first.(*ast.BasicLit).Value, "%"):
			problems = append(problems, where.String()+": "+x.Name+"."+sel.Sel.Name+
				": message arguments but no verb in the message")
		}
		return true
	})
	return problems
}

func isLiteral(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING
}

// isString reports whether e is a string as far as the syntax shows: a
// literal, a concatenation with one, a call to fmt.Sprint* or a string
// conversion, or a name declared as one of these or as a string.
func isString(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.ParenExpr:
		return isString(e.X)
	case *ast.BinaryExpr:
		return e.Op == token.ADD && (isString(e.X) || isString(e.Y))
	case *ast.CallExpr:
		if id, ok := e.Fun.(*ast.Ident); ok && id.Name == "string" {
			return true
		}
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok {
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "fmt" && strings.HasPrefix(sel.Sel.Name, "Sprint") {
				return true
			}
		}
	case *ast.Ident:
		return declaredString(e)
	}
	return false
}

// declaredString follows the parser's (file-local) resolution of id to its
// declaration.
func declaredString(id *ast.Ident) bool {
	if id.Obj == nil {
		return false
	}
	isStringType := func(t ast.Expr) bool {
		tid, ok := t.(*ast.Ident)
		return ok && tid.Name == "string"
	}
	switch d := id.Obj.Decl.(type) {
	case *ast.Field:
		return isStringType(d.Type)
	case *ast.ValueSpec:
		if d.Type != nil {
			return isStringType(d.Type)
		}
		for i, name := range d.Names {
			if name.Name == id.Name && i < len(d.Values) {
				return isString(d.Values[i])
			}
		}
	case *ast.AssignStmt:
		if len(d.Lhs) != len(d.Rhs) {
			return false
		}
		for i, lhs := range d.Lhs {
			if l, ok := lhs.(*ast.Ident); ok && l.Name == id.Name {
				return isString(d.Rhs[i])
			}
		}
	}
	return false
}

// TestTestifyCheckFindsMisuse: the check above finds what it is for and
// passes what testify formats well.
func TestTestifyCheckFindsMisuse(t *testing.T) {
	arity := testifyArity(t)
	src := `package p

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	req "github.com/stretchr/testify/require"
)

const label = "label %d"

func check(t *testing.T, name string, body map[string]any) {
	msg := fmt.Sprintf("got %v", body)
	assert.Equal(t, 200, 201, body)                         // one: printed as is
	assert.Equal(t, 200, 201, "status: %v", body)           // a format
	assert.Equal(t, 200, 201, name+": %v", body)            // a concatenation
	assert.Equal(t, 200, 201, name, body)                   // a string parameter
	assert.Equal(t, 200, 201, msg, 1)                       // a string variable
	assert.Equal(t, 200, 201, label, 1)                     // a string constant
	assert.Equal(t, 200, 201, body, "72 bytes")             // BAD 1
	req.NoError(t, nil, body, "x")                          // BAD 2
	assert.Eventually(t, nil, 0, 0, 42, "x")                // BAD 3
	assert.Contains(t, "ab", "a", "no verb here", body)     // BAD 4
	assert.Equalf(t, 200, 201, "status %d", 1)              // not msgAndArgs
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	problems := misusedMessages(fset, f, arity)
	if len(problems) != 4 {
		t.Fatalf("want 4 problems (the BAD lines), got %d:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	for i, line := range []int{21, 22, 23, 24} {
		if !strings.HasPrefix(problems[i], "p_test.go:"+strconv.Itoa(line)+":") {
			t.Errorf("problem %d: %s, want line %d", i, problems[i], line)
		}
	}
}
