package rjwttest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/rjwt/rjwt/rjwthttp"
	"github.com/rjwt/rjwt/rjwttest"
)

// An application's handler test: a client on a private embedded Redis, a
// token for a user, requests through httptest. In a real test t is go
// test's (func TestMe(t *testing.T)); nothing is installed or started.
func ExampleNew() {
	t := exampleT() // go test's t in a real test
	defer t.end()   // go test runs the cleanups: the client closes, its Redis stops

	c := rjwttest.New(t)
	me := rjwthttp.Middleware(c)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.ID)
	}))

	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Authorization", "Bearer "+rjwttest.Token(t, c, "alice"))
	rec := httptest.NewRecorder()
	me.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)

	rec = httptest.NewRecorder()
	me.ServeHTTP(rec, httptest.NewRequest("GET", "/me", nil)) // no token
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	up := rjwttest.Down(t, c) // Redis unreachable: 503, never a pass
	rec = httptest.NewRecorder()
	me.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Retry-After"))
	up()
	// Output:
	// 200 hello alice
	// 401 Bearer
	// 503 1
}
