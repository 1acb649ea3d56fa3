package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest" // a client's key and proofs; in a browser: panva's dpop
)

// A session bound to the client's DPoP key (RFC 9449): its tokens are
// useless without a fresh proof by that key.
func ExampleBindProof() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-dpop:"))
	defer r.Close()
	ctx := context.Background()
	key, _ := dpoptest.NewKey("ES256") // the client's; the private half never leaves it

	// Login: the request's DPoP header, method and URL.
	const login, api = "https://api.example.com/login", "https://api.example.com/v1/items"
	pair, err := r.SignPair(ctx, "alice", rjwt.BindProof(rjwt.Proof{
		JWT: key.Proof(dpoptest.Params{Method: "POST", URL: login}), Method: "POST", URL: login}))
	if err != nil {
		fmt.Println(err)
		return
	}

	// An API request: "Authorization: DPoP <token>" and a new proof carrying the token's hash.
	proof := rjwt.Proof{JWT: key.Proof(dpoptest.Params{Method: "GET", URL: api, AccessToken: pair.Token}), Method: "GET", URL: api}
	claims, err := r.Verify(ctx, pair.Token, rjwt.WithProof(proof))
	fmt.Println("with a proof:", err == nil, "bound to the key:", claims.Confirmation.JKT == key.JKT)
	_, err = r.Verify(ctx, pair.Token, rjwt.WithProof(proof))
	fmt.Println("the same proof again:", errors.Is(err, rjwt.ErrInvalidProof))
	_, err = r.Verify(ctx, pair.Token)
	fmt.Println("a stolen token alone:", errors.Is(err, rjwt.ErrInvalidProof))

	// Refresh needs a proof by the same key; without one nothing is spent.
	_, err = r.Refresh(ctx, pair.RefreshToken)
	fmt.Println("refresh without a proof:", errors.Is(err, rjwt.ErrInvalidProof))
	_, err = r.Refresh(ctx, pair.RefreshToken, rjwt.WithRefreshProof(rjwt.Proof{
		JWT: key.Proof(dpoptest.Params{Method: "POST", URL: login}), Method: "POST", URL: login}))
	fmt.Println("refresh with one:", err == nil)
	// Output:
	// with a proof: true bound to the key: true
	// the same proof again: true
	// a stolen token alone: true
	// refresh without a proof: true
	// refresh with one: true
}
