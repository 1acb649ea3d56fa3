package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rjwt/rjwt"
)

func ExampleClient_Reissue() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-reissue:"))
	defer r.Close()
	ctx := context.Background()

	login, _ := r.SignPair(ctx, "alice", rjwt.WithAMR("pwd"), rjwt.WithDataSession(map[string]int{"cart": 3}))
	old, _ := r.Verify(ctx, login.Token)

	// The user passed a second factor: a new session id for the new privilege.
	elevated, err := r.Reissue(ctx, old.Session, rjwt.WithAMR("pwd", "otp"))
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, _ := r.Verify(ctx, elevated.Token, rjwt.WithSession())
	fmt.Println(claims.AMR, string(claims.DataSession), elevated.RefreshToken != "")

	_, err = r.Verify(ctx, login.Token)
	var ended *rjwt.SessionEndedError
	fmt.Println(errors.As(err, &ended), ended.Reason)
	// Output:
	// [pwd otp] {"cart":3} true
	// true reissued
}

func ExampleClient_RevokeOthers() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")),
		rjwt.WithPrefix("example-revoke-others:"), rjwt.WithMultiple(true))
	defer r.Close()
	ctx := context.Background()
	_, _ = r.RevokeAll(ctx, "bob")

	phone, _ := r.Sign(ctx, "bob")
	_, _ = r.Sign(ctx, "bob") // a laptop
	_, _ = r.Sign(ctx, "bob") // a tablet
	claims, _ := r.Verify(ctx, phone)

	n, err := r.RevokeOthers(ctx, claims.Session) // "log out all other devices"
	fmt.Println(n, err)
	list, _ := r.Sessions(ctx, "bob")
	fmt.Println(len(list), list[0].Session == claims.Session)
	// Output:
	// 2 <nil>
	// 1 true
}

func ExampleWithLimitPolicy() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")),
		rjwt.WithPrefix("example-limit:"), rjwt.WithMultiple(true), rjwt.WithMaxSessions(2), rjwt.WithLimitPolicy(rjwt.LimitRefuse))
	defer r.Close()
	ctx := context.Background()
	_, _ = r.RevokeAll(ctx, "carol")

	for i := 0; i < 3; i++ {
		_, err := r.Sign(ctx, "carol")
		fmt.Println(err == nil, errors.Is(err, rjwt.ErrTooManySessions))
	}
	// Output:
	// true false
	// true false
	// false true
}

func ExampleRequireAuthWithin() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-step-up:"))
	defer r.Close()
	ctx := context.Background()

	// A session from a login an hour ago (a remembered device).
	token, _ := r.Sign(ctx, "dave", rjwt.WithAuthTime(time.Now().Add(-time.Hour)))
	_, err := r.Verify(ctx, token) // fine for everyday routes
	fmt.Println(err)
	_, err = r.Verify(ctx, token, rjwt.RequireAuthWithin(5*time.Minute)) // a payment
	var su *rjwt.StepUpError
	fmt.Println(errors.Is(err, rjwt.ErrStepUpRequired), errors.As(err, &su) && su.MaxAge == 5*time.Minute)
	// Output:
	// <nil>
	// true true
}
