package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rjwt/rjwt"
)

// These examples read the Redis URL from REDIS_URL and the key from
// RJWT_SECRET (32 or more random bytes), as an application would; the tests
// set both (a private redis-server, a fixed test key).

func ExampleNew() {
	secret := []byte("use-32-or-more-random-bytes-here") // e.g. from a secret manager
	r, err := rjwt.New(
		rjwt.WithSecret(secret),
		rjwt.WithURL(os.Getenv("REDIS_URL")),
		rjwt.WithPrefix("example-new:"),
		rjwt.WithDefaultTTL("15 minutes"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	_, err = rjwt.New(rjwt.WithSecret([]byte("too short")))
	fmt.Println(err)
	// Output:
	// rjwt: WithSecret: the key has 9 bytes; HS256 needs at least 32 random bytes
}

func ExampleClient_Sign() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-sign:"))
	defer r.Close()
	ctx := context.Background()

	token, err := r.Sign(ctx, "alice",
		rjwt.WithTTL("15 minutes"),
		rjwt.WithDataToken(map[string]string{"role": "admin"}), // public: in the token
		rjwt.WithDataSession(map[string]int{"cart": 3}),        // private: in Redis only
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, _ := r.Verify(ctx, token)
	fmt.Println(claims.ID, claims.TTL, string(claims.DataToken))

	_, err = r.Sign(ctx, "alice", rjwt.WithTTL("a fortnight or so"))
	fmt.Println(errors.Is(err, rjwt.ErrInvalidTTL))
	// Output:
	// alice 15m0s {"role":"admin"}
	// true
}

func ExampleClient_Verify_withSession() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-verify:"))
	defer r.Close()
	ctx := context.Background()

	token, _ := r.Sign(ctx, "bob", rjwt.WithDataSession(map[string]string{"plan": "pro"}))

	claims, err := r.Verify(ctx, token, rjwt.WithSession())
	if err != nil {
		fmt.Println(err)
		return
	}
	var private struct{ Plan string }
	_ = claims.DecodeDataSession(&private)
	fmt.Println(claims.ID, private.Plan)
	// Output:
	// bob pro
}

func ExampleClient_Verify_errorChecking() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-errors:"))
	defer r.Close()
	ctx := context.Background()

	first, _ := r.Sign(ctx, "carol")
	_, _ = r.Sign(ctx, "carol") // single mode: this revokes the first session

	for _, token := range []string{first, "not.a.token"} {
		_, err := r.Verify(ctx, token)
		switch {
		case err == nil:
			fmt.Println("ok")
		case errors.Is(err, rjwt.ErrSessionNotFound):
			fmt.Println("401: session revoked or expired")
		case errors.Is(err, rjwt.ErrTokenExpired):
			fmt.Println("401: token expired")
		case errors.Is(err, rjwt.ErrInvalidToken):
			fmt.Println("401: invalid token")
		default:
			fmt.Println("503: Redis unavailable")
		}
	}
	// Output:
	// 401: session revoked or expired
	// 401: invalid token
}

func ExampleClient_Revoke() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-revoke:"), rjwt.WithMultiple(true))
	defer r.Close()
	ctx := context.Background()

	phone, _ := r.Sign(ctx, "dave")
	laptop, _ := r.Sign(ctx, "dave")

	claims, _ := r.Verify(ctx, phone)
	_ = r.Revoke(ctx, claims.Session) // log the phone out

	_, err := r.Verify(ctx, phone)
	fmt.Println("phone:", errors.Is(err, rjwt.ErrSessionNotFound))
	_, err = r.Verify(ctx, laptop)
	fmt.Println("laptop still valid:", err == nil)

	n, _ := r.RevokeAll(ctx, "dave") // logout everywhere
	fmt.Println("revoked:", n)
	// Output:
	// phone: true
	// laptop still valid: true
	// revoked: 1
}
