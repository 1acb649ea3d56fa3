package rjwt

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rjwt/rjwt/internal/jws"
)

// ErrNoSigningKey: Sign, SignPair or Refresh on a client that only
// verifies (given WithVerificationKey but no WithSecret or WithSigningKey).
// Nothing was written.
var ErrNoSigningKey = errors.New("rjwt: no signing key")

// MinRSABits is the smallest RSA modulus rjwt accepts, signing or verifying.
const MinRSABits = jws.MinRSABits

// WithSigningKey sets the key that signs new tokens and the id ("kid") put in
// their header; kid may be empty, and then tokens carry none. The key's type
// chooses the algorithm:
//
//	[]byte             HS256 (at least MinSecretSize, 32, bytes; copied)
//	ed25519.PrivateKey EdDSA
//	*ecdsa.PrivateKey  ES256 (curve P-256 only)
//	*rsa.PrivateKey    RS256 (at least MinRSABits, 2048, bits)
//
// The signing key also verifies (an asymmetric one by its public half).
// WithSecret(b) is WithSigningKey("", b). A client has at most one signing
// key; without one it only verifies (see WithVerificationKey), and Sign,
// SignPair and Refresh fail with ErrNoSigningKey. A key of another type, too
// short, or a kid that is not UTF-8 or is already another key's makes New
// fail.
//
// Verifying with an asymmetric key goes through golang-jwt's parser and costs
// the algorithm's verification (tens of microseconds for EdDSA and ES256);
// HS256 tokens that carry rjwt's own header take a faster path.
func WithSigningKey(kid string, k any) Option {
	return func(c *config) error {
		if c.signing != nil {
			return errors.New("rjwt: WithSigningKey: a client has one signing key, and one is already set (WithSecret or WithSigningKey); pass older keys WithVerificationKey")
		}
		sk, err := jws.SigningKey(kid, k)
		if err != nil {
			return fmt.Errorf("rjwt: WithSigningKey: %w", err)
		}
		c.signing = sk
		return nil
	}
}

// WithVerificationKey adds a key that Verify and Refresh accept, but that
// never signs: a retired key during a rotation, or the public key of another
// service that signs. Verify picks the key by the token's "kid" header (a
// token without one needs a key with the empty kid), and the token's "alg"
// must be the key's:
//
//	[]byte            HS256 (at least MinSecretSize, 32, bytes; copied)
//	ed25519.PublicKey EdDSA
//	*ecdsa.PublicKey  ES256 (curve P-256 only)
//	*rsa.PublicKey    RS256 (at least MinRSABits, 2048, bits)
//
// It may be given any number of times; each kid names one key, across
// signing and verification keys. To rotate keys without logging anyone out:
// give every instance the new key WithVerificationKey; then make it the
// signing key and the old one a verification key; drop the old key once the
// longest-lived token it signed has expired (see the example).
func WithVerificationKey(kid string, k any) Option {
	return func(c *config) error {
		vk, err := jws.VerificationKey(kid, k)
		if err != nil {
			return fmt.Errorf("rjwt: WithVerificationKey: %w", err)
		}
		c.verifying = append(c.verifying, vk)
		return nil
	}
}

// newCodec builds the token side of a client from cfg: signing, key
// selection and the parsers, judging times by clock.
func newCodec(cfg *config, clock func() time.Time) (*codec, error) {
	c := &codec{clock: clock, issuer: cfg.issuer, audience: cfg.audience}
	if cfg.signing == nil && len(cfg.verifying) == 0 {
		return nil, fmt.Errorf("rjwt: New: no key: pass WithSecret with at least %d random bytes, or WithSigningKey or WithVerificationKey; rjwt has no default key", MinSecretSize)
	}
	set, err := jws.NewSet(cfg.signing, cfg.verifying)
	if err != nil {
		return nil, err
	}
	c.signer, c.set = set.Signer, set
	algs := set.Algs
	c.parser = jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithLeeway(cfg.leeway),
		jwt.WithTimeFunc(clock),
	)
	c.expired = jwt.NewParser(jwt.WithValidMethods(algs), jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())
	c.validator = jwt.NewValidator(jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(cfg.leeway), jwt.WithTimeFunc(clock))
	c.leeway = cfg.leeway
	c.keyFunc = set.KeyFor
	return c, nil
}

// fastKey returns the HS256 key whose own header token starts with, if any.
func (c *codec) fastKey(token string) *key { return c.set.Fast(token) }
