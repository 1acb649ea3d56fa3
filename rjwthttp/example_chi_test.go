package rjwthttp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// Middleware is a func(http.Handler) http.Handler: the middleware type of
// net/http, chi (r.Use(mw), or r.With(mw) for some routes) and gorilla/mux,
// so on those routers rjwt needs no glue. Here with net/http's ServeMux
// alone: login and refresh in the open, everything under /api/ behind mw
// (with chi: r.Route("/api", func(r chi.Router) { r.Use(mw); ... })).
func Example_routers() {
	client, err := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-routers:"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	h, err := rjwthttp.NewHandlers(client, demoAccounts{})
	if err != nil {
		fmt.Println(err)
		return
	}
	mw := rjwthttp.Middleware(client, rjwthttp.WithSessionData())

	api := http.NewServeMux()
	api.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		s, _ := rjwthttp.SessionFromContext(r.Context())
		views, err := s.Incr(r.Context(), "views", 1)
		if err != nil {
			rjwthttp.WriteError(w, err) // a 503 with Retry-After when Redis is down
			return
		}
		fmt.Fprintf(w, "hello %s, visit %d", claims.ID, views)
	})
	api.HandleFunc("POST /api/logout", h.Logout)
	api.HandleFunc("POST /api/logoutAll", h.LogoutAll)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", h.Authorize)
	mux.HandleFunc("POST /refresh", h.RefreshToken)
	mux.Handle("/api/", mw(api)) // chi: r.Use(mw)

	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	var pair rjwt.Pair
	json.Unmarshal(call("POST", "/login", "", `{"account":"alice","password":"correct horse"}`).Body.Bytes(), &pair)
	fmt.Println(call("GET", "/api/me", pair.Token, "").Body)
	fmt.Println(call("GET", "/api/me", pair.Token, "").Body)
	fmt.Print(call("POST", "/api/logoutAll", pair.Token, "").Body) // JSON, with its newline
	fmt.Println(call("GET", "/api/me", pair.Token, "").Code)
	// Output:
	// hello alice, visit 1
	// hello alice, visit 2
	// {"revoked":1}
	// 401
}
