package rjwthttp_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// A gateway, or a service in another language, asks whether a token is
// live (RFC 7662) and ends a session (RFC 7009) over HTTP, with a shared
// secret.
func ExampleIntrospectionHandler() {
	client, err := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-introspect:"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	const secret = "gateway-secret" // in production: from the environment
	authorize := func(r *http.Request) bool {
		return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+secret)) == 1
	}
	mux := http.NewServeMux()
	mux.Handle("POST /oauth/introspect", rjwthttp.IntrospectionHandler(client, authorize))
	mux.Handle("POST /oauth/revoke", rjwthttp.RevocationHandler(client, authorize))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The caller's side: a form POST with the token.
	ask := func(path, token string) string {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var body struct {
			Active    bool   `json:"active"`
			Sub       string `json:"sub"`
			TokenType string `json:"token_type"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return resp.Status // revocation: 200 and no body
		}
		return fmt.Sprintf("active=%v sub=%q token_type=%q", body.Active, body.Sub, body.TokenType)
	}

	pair, err := client.SignPair(context.Background(), "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ask("/oauth/introspect", pair.Token))
	fmt.Println(ask("/oauth/introspect", pair.RefreshToken))
	fmt.Println(ask("/oauth/revoke", pair.RefreshToken))
	fmt.Println(ask("/oauth/introspect", pair.Token))
	// Output:
	// active=true sub="alice" token_type="access_token"
	// active=true sub="alice" token_type="refresh_token"
	// 200 OK
	// active=false sub="" token_type=""
}
