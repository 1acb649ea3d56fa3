package rjwtecho_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/labstack/echo/v4"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwtecho"
	"github.com/rjwt/rjwt/rjwthttp"
)

// An app on echo: rjwthttp's login, refresh and logout handlers through
// echo.WrapHandler, and a protected route that counts its visits in the
// session. Redis here is an embedded one (miniredis); an application names
// its own (rjwt.WithAddr, WithURL).
func Example() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client, _ := rjwt.New(rjwt.WithAddr(mr.Addr()), rjwt.WithSecret([]byte("an example secret of 32 bytes...")))
	defer client.Close()
	h, _ := rjwthttp.NewHandlers(client, accounts{}) // the application's account store

	e := echo.New()
	mw := rjwtecho.Middleware(client, rjwthttp.WithSessionData())
	e.POST("/login", echo.WrapHandler(http.HandlerFunc(h.Authorize)))
	e.POST("/refresh", echo.WrapHandler(http.HandlerFunc(h.RefreshToken)))
	e.POST("/logout", echo.WrapHandler(http.HandlerFunc(h.Logout)), mw)
	e.POST("/logoutAll", echo.WrapHandler(http.HandlerFunc(h.LogoutAll)), mw)
	e.GET("/me", func(c echo.Context) error {
		claims, _ := rjwtecho.Claims(c)
		s, _ := rjwtecho.Session(c)
		var views int
		if _, err := s.Get("views", &views); err != nil {
			return err
		}
		if err := s.Set("views", views+1); err != nil { // saved before the response's headers
			return err
		}
		return c.String(200, fmt.Sprintf("hello %s, visit %d", claims.ID, views+1))
	}, mw)

	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	var pair rjwt.Pair
	json.Unmarshal(call("POST", "/login", "", `{"account":"alice","password":"pw"}`).Body.Bytes(), &pair)
	fmt.Println(call("GET", "/me", pair.Token, "").Body)
	fmt.Println(call("GET", "/me", pair.Token, "").Body)
	fmt.Println(call("POST", "/logout", pair.Token, "").Code)
	rec := call("GET", "/me", pair.Token, "")
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// hello alice, visit 1
	// hello alice, visit 2
	// 204
	// 401 Bearer error="invalid_token", error_description="session revoked"
}
