package rjwt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/rjwt/rjwt"
)

func ExampleClient_SignPair() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-pair:"))
	defer r.Close()
	ctx := context.Background()

	pair, err := r.SignPair(ctx, "alice", rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 days"))
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(pair)
	var lifetimes struct{ ExpiresIn, RefreshExpiresIn int } // JSON: whole seconds
	_ = json.Unmarshal(b, &lifetimes)
	fmt.Println("expiresIn", lifetimes.ExpiresIn, "refreshExpiresIn", lifetimes.RefreshExpiresIn)

	_, err = r.Verify(ctx, pair.Token)
	fmt.Println("access token verifies:", err == nil)
	_, err = r.Verify(ctx, pair.RefreshToken)
	fmt.Println("refresh token as access token:", errors.Is(err, rjwt.ErrInvalidToken))
	// Output:
	// expiresIn 900 refreshExpiresIn 2592000
	// access token verifies: true
	// refresh token as access token: true
}

func ExampleClient_Refresh() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-refresh:"))
	defer r.Close()
	ctx := context.Background()

	first, _ := r.SignPair(ctx, "alice", rjwt.WithTTL("15 minutes"))
	second, err := r.Refresh(ctx, first.RefreshToken) // rotate: first.RefreshToken is spent
	if err != nil {
		fmt.Println(err)
		return
	}
	c1, _ := r.Verify(ctx, first.Token)
	c2, _ := r.Verify(ctx, second.Token)
	fmt.Println("same session:", c1.Session == c2.Session)

	// A second tab, or a retry after a lost reply, within the grace
	// (WithRefreshGrace, 5 seconds by default): the same pair again.
	again, _ := r.Refresh(ctx, first.RefreshToken)
	fmt.Println("same pair:", again == second)

	// A token older than the last rotation comes back: taken for theft, the
	// session ends.
	third, _ := r.Refresh(ctx, second.RefreshToken)
	_, err = r.Refresh(ctx, first.RefreshToken)
	switch {
	case errors.Is(err, rjwt.ErrRefreshReused):
		fmt.Println("reused: session revoked")
	case errors.Is(err, rjwt.ErrSessionNotFound), errors.Is(err, rjwt.ErrTokenExpired), errors.Is(err, rjwt.ErrInvalidToken):
		fmt.Println("refused: log in again")
	case err != nil:
		fmt.Println("Redis failed: try later")
	}
	_, err = r.Verify(ctx, third.Token)
	fmt.Println("newest access token:", errors.Is(err, rjwt.ErrSessionNotFound))
	// Output:
	// same session: true
	// same pair: true
	// reused: session revoked
	// newest access token: true
}
