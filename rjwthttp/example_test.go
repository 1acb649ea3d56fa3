package rjwthttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

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
