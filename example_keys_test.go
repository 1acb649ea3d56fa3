package rjwt_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/rjwt/rjwt"
)

// Rotating the signing key without logging anyone out, in three steps. Each
// step is a configuration every instance of the service runs before the next
// step starts; the instances share Redis, so sessions outlive the change.
func Example_keyRotation() {
	ctx := context.Background()
	oldKey := []byte("the-old-secret-32-or-more-bytes!") // was WithSecret: tokens carry no kid
	newKey := []byte("the-new-secret-32-or-more-bytes!")
	instance := func(opts ...rjwt.Option) *rjwt.Client {
		c, err := rjwt.New(append(opts, rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-rotation:"), rjwt.WithMultiple(true))...)
		if err != nil {
			panic(err)
		}
		return c
	}
	verifies := func(c *rjwt.Client, token string) string {
		if _, err := c.Verify(ctx, token); err != nil {
			return "refused"
		}
		return "ok"
	}

	before := instance(rjwt.WithSecret(oldKey))
	defer before.Close()
	oldToken, _ := before.Sign(ctx, "alice")

	// 1. Every instance learns the new key, and still signs with the old one.
	step1 := instance(rjwt.WithSecret(oldKey), rjwt.WithVerificationKey("2025-06", newKey))
	defer step1.Close()

	// 2. Once all run step 1, switch signing: the new key signs, with its kid
	// in the header; the old one only verifies.
	step2 := instance(rjwt.WithSigningKey("2025-06", newKey), rjwt.WithVerificationKey("", oldKey))
	defer step2.Close()
	newToken, _ := step2.Sign(ctx, "alice")
	fmt.Println("step 1 verifies old and new tokens:", verifies(step1, oldToken), verifies(step1, newToken))
	fmt.Println("step 2 verifies old and new tokens:", verifies(step2, oldToken), verifies(step2, newToken))

	// 3. After the longest token life (the refresh TTL with SignPair), no
	// token of the old key is left: drop it.
	step3 := instance(rjwt.WithSigningKey("2025-06", newKey))
	defer step3.Close()
	fmt.Println("step 3 verifies old and new tokens:", verifies(step3, oldToken), verifies(step3, newToken))
	// Output:
	// step 1 verifies old and new tokens: ok ok
	// step 2 verifies old and new tokens: ok ok
	// step 3 verifies old and new tokens: refused ok
}

// A service that signs with an Ed25519 key publishes its public key as a JWK
// Set; another service verifies with the public key alone and cannot sign.
func ExampleClient_JWKS() {
	ctx := context.Background()
	seed := []byte("an-ed25519-seed-of-32-bytes-here") // e.g. from a secret manager
	private := ed25519.NewKeyFromSeed(seed)

	issuer, _ := rjwt.New(rjwt.WithSigningKey("ed-1", private), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-jwks:"))
	defer issuer.Close()
	jwks, _ := issuer.JWKS() // serve it: rjwthttp.JWKSHandler(issuer)
	fmt.Println(string(jwks))

	verifier, _ := rjwt.New(rjwt.WithVerificationKey("ed-1", private.Public()), rjwt.WithURL(os.Getenv("REDIS_URL")), rjwt.WithPrefix("example-jwks:"))
	defer verifier.Close()
	token, _ := issuer.Sign(ctx, "bob")
	claims, err := verifier.Verify(ctx, token)
	fmt.Println(claims.ID, err)
	_, err = verifier.Sign(ctx, "bob")
	fmt.Println(errors.Is(err, rjwt.ErrNoSigningKey))
	// Output:
	// {"keys":[{"kty":"OKP","use":"sig","alg":"EdDSA","kid":"ed-1","crv":"Ed25519","x":"9M6R2fcCOpgOl2mVIasN6iWxeXOLIrhB9yL3lMZaeXo"}]}
	// bob <nil>
	// true
}
