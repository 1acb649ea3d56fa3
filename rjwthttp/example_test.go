package rjwthttp_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// The package documentation's example, run: a page that counts its visits in
// the session's private data.
func Example() {
	client, err := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-pkg:"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	mw := rjwthttp.Middleware(client, rjwthttp.WithSessionData())
	mux := http.NewServeMux()
	mux.Handle("GET /me", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context()) // always there behind mw
		s, _ := rjwthttp.SessionFromContext(r.Context())
		var views int
		if _, err := s.Get("views", &views); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := s.Set("views", views+1); err != nil { // saved before the response's headers
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello %s, visit %d\n", claims.ID, views+1)
	})))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	token, err := client.Sign(context.Background(), "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	get := func(token string) {
		req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
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
		fmt.Printf("%d [%s] %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	get(token)
	get(token)
	get("")      // no token: a bare challenge (RFC 6750 §3.1)
	get("x.y.z") // a refused token
	// Output:
	// 200 [] hello alice, visit 1
	// 200 [] hello alice, visit 2
	// 401 [Bearer] {"error":"credentials_required","error_description":"no token"}
	// 401 [Bearer error="invalid_token", error_description="invalid token"] {"error":"invalid_token","error_description":"invalid token"}
}

// An ErrorHandler that answers in the application's own format, keeping the
// default's statuses (Classify) and headers for the rest (WriteError).
func ExampleWithErrorHandler() {
	client, err := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-eh:"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	problem := func(w http.ResponseWriter, r *http.Request, err error) {
		status, code := rjwthttp.Classify(err)
		if status != http.StatusUnauthorized {
			rjwthttp.WriteError(w, err) // 503 keeps its Retry-After, 500 its silence
			return
		}
		if errors.Is(err, rjwthttp.ErrNoToken) {
			w.Header().Set("WWW-Authenticate", "Bearer")
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "status": status, "title": code})
	}
	mw := rjwthttp.Middleware(client, rjwthttp.WithErrorHandler(problem))
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", resp.Header.Get("Content-Type"), " ", string(body))
	// Output:
	// 401 application/problem+json {"status":401,"title":"credentials_required","type":"about:blank"}
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
	client, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-handlers:"))
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
