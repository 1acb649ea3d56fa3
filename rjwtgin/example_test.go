package rjwtgin_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwtgin"
	"github.com/rjwt/rjwt/rjwthttp"
)

// An app on gin: rjwthttp's login, refresh and logout handlers through
// gin.WrapF, and a protected route that counts its visits in the session.
// Redis here is an embedded one (miniredis); an application names its own
// (rjwt.WithAddr, WithURL).
func Example() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client, _ := rjwt.New(rjwt.WithAddr(mr.Addr()), rjwt.WithSecret([]byte("an example secret of 32 bytes...")))
	defer client.Close()
	h, _ := rjwthttp.NewHandlers(client, accounts{}) // the application's account store

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	mw := rjwtgin.Middleware(client, rjwthttp.WithSessionData())
	r.POST("/login", gin.WrapF(h.Authorize))
	r.POST("/refresh", gin.WrapF(h.RefreshToken))
	r.POST("/logout", mw, gin.WrapF(h.Logout))
	r.POST("/logoutAll", mw, gin.WrapF(h.LogoutAll))
	r.GET("/me", mw, func(c *gin.Context) {
		claims, _ := rjwtgin.Claims(c)
		s, _ := rjwtgin.Session(c)
		var views int
		if _, err := s.Get("views", &views); err != nil {
			c.Error(err)
			return
		}
		if err := s.Set("views", views+1); err != nil { // saved before the response's headers
			c.Error(err)
			return
		}
		c.String(200, "hello %s, visit %d", claims.ID, views+1)
	})

	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
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
