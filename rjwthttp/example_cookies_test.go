package rjwthttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// roles gives each user a role in its tokens: Accounts may implement
// AccountSignOptions.
type roles struct{ demoAccounts }

func (roles) SignOptions(_ context.Context, id string, _ *http.Request) ([]rjwt.SignOption, error) {
	return []rjwt.SignOption{rjwt.WithDataToken(map[string]string{"role": "editor"})}, nil
}

// Cookie mode for a browser application: an HTML form logs in with the
// fields "email" and "password", the pair comes back as HttpOnly cookies,
// requests are authenticated by cookie, and a form on another site cannot
// log the user out.
func ExampleWithCookies() {
	client, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-cookies:"))
	defer client.Close()
	cookies := rjwthttp.WithCookies(rjwthttp.Cookies{RefreshPath: "/refreshToken"}) // for both
	h, err := rjwthttp.NewHandlers(client, roles{}, cookies,
		rjwthttp.WithCredentials(rjwthttp.CredentialFields("email", "password")))
	if err != nil {
		fmt.Println(err)
		return
	}
	auth := rjwthttp.Middleware(client, cookies)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("POST /logout", auth(http.HandlerFunc(h.Logout)))
	mux.Handle("GET /me", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rjwthttp.FromContext(r.Context())
		fmt.Fprintf(w, "%s %s", claims.ID, claims.DataToken)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	send := func(method, path, site, form string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", site) // as a browser says where a request comes from
		resp, err := browser.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := send("POST", "/authorize", "same-origin", "email=alice&password=correct+horse")
	for _, c := range resp.Cookies() {
		fmt.Printf("login: %d, cookie %s HttpOnly=%t Path=%s\n", resp.StatusCode, c.Name, c.HttpOnly, c.Path)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
	me, _ := browser.Do(req)
	text, _ := io.ReadAll(me.Body)
	me.Body.Close()
	fmt.Println("me:", me.StatusCode, string(text))
	fmt.Println("another site's form posting to /logout:", send("POST", "/logout", "cross-site", "").StatusCode)
	fmt.Println("logout:", send("POST", "/logout", "same-origin", "").StatusCode)
	fmt.Println("refresh after logout:", send("POST", "/refreshToken", "same-origin", "").StatusCode)
	// Output:
	// login: 200, cookie rjwt HttpOnly=true Path=/
	// login: 200, cookie rjwt-refresh HttpOnly=true Path=/refreshToken
	// me: 200 alice {"role":"editor"}
	// another site's form posting to /logout: 403
	// logout: 204
	// refresh after logout: 401
}
