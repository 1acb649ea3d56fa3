package rjwt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rjwt/rjwt"
)

// A session unused for the idle timeout ends, though its token's exp is an
// hour away; a session in use lives on.
func ExampleWithIdleTimeout() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-idle:"),
		rjwt.WithMultiple(true), rjwt.WithIdleTimeout("1 second"))
	defer r.Close()
	ctx := context.Background()

	used, _ := r.Sign(ctx, "alice", rjwt.WithTTL("1 hour"))
	forgotten, _ := r.Sign(ctx, "alice", rjwt.WithTTL("1 hour"))
	for range 6 { // 1.5 s of use
		time.Sleep(250 * time.Millisecond)
		if _, err := r.Verify(ctx, used); err != nil {
			fmt.Println(err)
		}
	}
	_, err := r.Verify(ctx, used)
	fmt.Println("used:", err)
	_, err = r.Verify(ctx, forgotten)
	fmt.Println("forgotten:", errors.Is(err, rjwt.ErrSessionNotFound))
	// Output:
	// used: <nil>
	// forgotten: true
}

// A device list: each login records its device; the user sees them all and
// logs one out, and cannot log out anyone else's.
func ExampleClient_Sessions_devices() {
	r, _ := rjwt.New(rjwt.WithSecret([]byte(os.Getenv("RJWT_SECRET"))), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-devices:"),
		rjwt.WithMultiple(true))
	defer r.Close()
	ctx := context.Background()

	_, _ = r.SignPair(ctx, "alice", rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 days"),
		rjwt.WithMeta(map[string]string{"device": "phone", "ip": "192.0.2.7"}))
	_, _ = r.SignPair(ctx, "alice", rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("7 days"),
		rjwt.WithMeta(map[string]string{"device": "laptop", "ip": "198.51.100.4"}))
	bobs, _ := r.Sign(ctx, "bob")

	list, _ := r.Sessions(ctx, "alice") // soonest to expire first
	for _, s := range list {
		fmt.Printf("%s from %s, created %s ago\n", s.Meta["device"], s.Meta["ip"], time.Since(s.CreatedAt).Round(time.Hour))
	}

	// Alice logs her laptop out; the session name came from her client.
	fmt.Println("laptop:", r.RevokeOwn(ctx, "alice", list[0].Session))
	bob, _ := r.Verify(ctx, bobs)
	err := r.RevokeOwn(ctx, "alice", bob.Session)
	fmt.Println("bob's session:", errors.Is(err, rjwt.ErrSessionNotFound))
	list, _ = r.Sessions(ctx, "alice")
	fmt.Println("left:", len(list), list[0].Meta["device"])
	// Output:
	// laptop from 198.51.100.4, created 0s ago
	// phone from 192.0.2.7, created 0s ago
	// laptop: <nil>
	// bob's session: true
	// left: 1 phone
}
