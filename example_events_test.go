package rjwt_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rjwt/rjwt"
)

func ExampleClient_Events() {
	r, err := rjwt.New(
		rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))),
		rjwt.WithURL(os.Getenv("REDIS_URL")),
		rjwt.WithPrefix("example-events:"),
		rjwt.WithKeyspaceEvents(true), // session expired / revoked events
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}

	token, _ := r.Sign(ctx, "alice")
	claims, _ := r.Verify(ctx, token)
	_ = r.Revoke(ctx, claims.Session)

	for e := range r.Events() {
		switch e.Type {
		case rjwt.EventDisconnected:
			// Redis is down: calls fail (serve 503) until EventReady.
		case rjwt.EventError:
			fmt.Println("error:", e.Err)
		case rjwt.EventSessionRevoked:
			fmt.Println(e.Type, e.Session == claims.Session)
			return
		}
	}
	// Output:
	// session_revoked true
}
