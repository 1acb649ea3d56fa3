package dpop_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/rjwt/rjwt/internal/dpop"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
)

// A resource server checks the proof sent with a bound access token: the
// request's method and public URL, the token (for ath), and the thumbprint
// the token is bound to (cnf.jkt). The jti then goes into a replay set
// until Checker.Until.
func Example() {
	key, _ := dpoptest.NewKey("ES256") // the client's key pair
	token := "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"
	proof := key.Proof(dpoptest.Params{Method: "GET", URL: "https://api.example.com/items?page=2", AccessToken: token, JTI: "e1f2"})

	checker := &dpop.Checker{Leeway: 5 * time.Second}
	res, err := checker.Check(proof, dpop.Request{
		Method:      "GET",
		URL:         "https://API.example.com:443/items",
		AccessToken: token,
		JKT:         key.JKT,
	})
	fmt.Println(err, res.JTI, res.Alg, res.JKT == key.JKT)
	fmt.Println("remember the jti for", checker.Until(res.IssuedAt).Sub(res.IssuedAt))

	// The same proof with another token, or on another URL, is refused.
	_, err = checker.Check(proof, dpop.Request{Method: "GET", URL: "https://api.example.com/items", AccessToken: "another"})
	fmt.Println(errors.Is(err, dpop.ErrInvalid), err)
	// Output:
	// <nil> e1f2 ES256 true
	// remember the jti for 1m5s
	// true invalid DPoP proof: the ath is missing or not the hash of the access token
}
