package rjwthttp_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

func ExampleMiddleware() {
	client, _ := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(redisAddr), rjwt.WithPrefix("example-mw:"))
	defer client.Close()

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		s, _ := rjwthttp.SessionFromContext(r.Context())
		var views int
		_, _ = s.Get("views", &views)
		_ = s.Set("views", views+1) // saved before the headers go out
		fmt.Fprintf(w, "hello %s, view %d", claims.ID, views+1)
	})
	srv := httptest.NewServer(rjwthttp.Middleware(client, rjwthttp.WithSessionData())(hello))
	defer srv.Close()

	token, _ := client.Sign(context.Background(), "alice")
	get := func(token string) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body))
	}
	get(token)
	get(token)
	get("")
	// Output:
	// 200  hello alice, view 1
	// 200  hello alice, view 2
	// 401 Bearer error="invalid_token", error_description="no token" {"error":"invalid_token","error_description":"no token"}
}

// demoAccounts is an Accounts for the example: one account, password
// compared in constant time. A real store keeps bcrypt or argon2id hashes.
type demoAccounts struct{}

func (demoAccounts) Authenticate(_ context.Context, c rjwthttp.Credentials) (string, error) {
	if c.Account == "alice" && subtle.ConstantTimeCompare([]byte(c.Password), []byte("correct horse")) == 1 {
		return "alice", nil
	}
	return "", rjwthttp.ErrInvalidCredentials
}

func (demoAccounts) Register(context.Context, rjwthttp.Credentials) (string, error) {
	return "", rjwthttp.ErrAccountExists
}

func ExampleNewHandlers() {
	client, _ := rjwt.New(rjwt.WithSecret(testSecret), rjwt.WithAddr(redisAddr), rjwt.WithPrefix("example-handlers:"))
	defer client.Close()
	h, err := rjwthttp.NewHandlers(client, demoAccounts{}, rjwthttp.WithSignOptions(rjwt.WithTTL("15 minutes")))
	if err != nil {
		fmt.Println(err)
		return
	}
	auth := rjwthttp.Middleware(client)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("POST /logout", auth(http.HandlerFunc(h.Logout)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, token, body string) (int, rjwt.Pair) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, rjwt.Pair{}
		}
		defer resp.Body.Close()
		var p rjwt.Pair
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p
	}
	status, _ := post("/authorize", "", `{"account": "alice", "password": "wrong"}`)
	fmt.Println("wrong password:", status)
	status, pair := post("/authorize", "", `{"account": "alice", "password": "correct horse"}`)
	fmt.Println("login:", status, pair.ExpiresIn)
	status, _ = post("/authorize", "", `{"account": "alice", `)
	fmt.Println("malformed JSON:", status)
	status, next := post("/refreshToken", "", `{"refreshToken": "`+pair.RefreshToken+`"}`)
	fmt.Println("refresh:", status)
	status, _ = post("/logout", next.Token, "")
	fmt.Println("logout:", status)
	status, _ = post("/refreshToken", "", `{"refreshToken": "`+next.RefreshToken+`"}`)
	fmt.Println("refresh after logout:", status)
	// Output:
	// wrong password: 401
	// login: 200 15m0s
	// malformed JSON: 400
	// refresh: 200
	// logout: 204
	// refresh after logout: 401
}
