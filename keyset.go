package rjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// MinRSABits is the smallest RSA modulus rjwt accepts, signing or verifying.
const MinRSABits = 2048

// A key signs or verifies tokens with exactly one algorithm, fixed by its Go
// type (RFC 8725 §3.1): a token whose "alg" is not its key's is refused, so
// an RSA public key can never be used as an HMAC secret.
type key struct {
	kid     string
	alg     string
	method  jwt.SigningMethod
	verify  any    // what method.Verify takes
	sign    any    // what method.Sign takes; nil for a verification key
	public  any    // the public key for JWKS; nil for an HMAC secret
	header  string // base64url of the header rjwt signs with this key
	sigSize int    // bytes in a signature
	macs    *macPool
}

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
		sk, err := signingKey(kid, k)
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
		vk, err := verificationKey(kid, k)
		if err != nil {
			return fmt.Errorf("rjwt: WithVerificationKey: %w", err)
		}
		c.verifying = append(c.verifying, vk)
		return nil
	}
}

func signingKey(kid string, k any) (*key, error) {
	switch k := k.(type) {
	case []byte:
		return hmacKey(kid, k)
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("the Ed25519 private key has %d bytes, not %d", len(k), ed25519.PrivateKeySize)
		}
		priv := append(ed25519.PrivateKey(nil), k...)
		pub := priv.Public().(ed25519.PublicKey)
		return newKey(kid, jwt.SigningMethodEdDSA, pub, priv, pub, ed25519.SignatureSize)
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil, errors.New("nil *ecdsa.PrivateKey")
		}
		if err := checkP256(&k.PublicKey); err != nil {
			return nil, err
		}
		return newKey(kid, jwt.SigningMethodES256, &k.PublicKey, k, &k.PublicKey, 64)
	case *rsa.PrivateKey:
		if k == nil {
			return nil, errors.New("nil *rsa.PrivateKey")
		}
		if err := checkRSA(&k.PublicKey); err != nil {
			return nil, err
		}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("RSA private key: %w", err)
		}
		return newKey(kid, jwt.SigningMethodRS256, &k.PublicKey, k, &k.PublicKey, k.Size())
	}
	return nil, fmt.Errorf("a %T cannot sign: use []byte (HS256), ed25519.PrivateKey (EdDSA), *ecdsa.PrivateKey (ES256) or *rsa.PrivateKey (RS256)", k)
}

func verificationKey(kid string, k any) (*key, error) {
	switch k := k.(type) {
	case []byte:
		return hmacKey(kid, k)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("the Ed25519 public key has %d bytes, not %d", len(k), ed25519.PublicKeySize)
		}
		pub := append(ed25519.PublicKey(nil), k...)
		return newKey(kid, jwt.SigningMethodEdDSA, pub, nil, pub, ed25519.SignatureSize)
	case *ecdsa.PublicKey:
		if k == nil {
			return nil, errors.New("nil *ecdsa.PublicKey")
		}
		if err := checkP256(k); err != nil {
			return nil, err
		}
		return newKey(kid, jwt.SigningMethodES256, k, nil, k, 64)
	case *rsa.PublicKey:
		if k == nil {
			return nil, errors.New("nil *rsa.PublicKey")
		}
		if err := checkRSA(k); err != nil {
			return nil, err
		}
		return newKey(kid, jwt.SigningMethodRS256, k, nil, k, k.Size())
	}
	return nil, fmt.Errorf("a %T cannot verify: use []byte (HS256), ed25519.PublicKey (EdDSA), *ecdsa.PublicKey (ES256) or *rsa.PublicKey (RS256)", k)
}

func hmacKey(kid string, secret []byte) (*key, error) {
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("the key has %d bytes; HS256 needs at least %d random bytes", len(secret), MinSecretSize)
	}
	secret = append([]byte(nil), secret...)
	k, err := newKey(kid, jwt.SigningMethodHS256, secret, secret, nil, sha256.Size)
	if err != nil {
		return nil, err
	}
	k.macs = newMacPool(secret)
	return k, nil
}

func checkP256(k *ecdsa.PublicKey) error {
	if k.Curve != elliptic.P256() {
		return fmt.Errorf("ES256 needs a P-256 key, not %s", curveName(k))
	}
	if _, err := k.ECDH(); err != nil { // also refuses a point off the curve
		return fmt.Errorf("ECDSA key: %w", err)
	}
	return nil
}

func curveName(k *ecdsa.PublicKey) string {
	if k.Curve == nil {
		return "no curve"
	}
	return k.Curve.Params().Name
}

func checkRSA(k *rsa.PublicKey) error {
	if k.N == nil || k.N.BitLen() < MinRSABits {
		n := 0
		if k.N != nil {
			n = k.N.BitLen()
		}
		return fmt.Errorf("the RSA key has %d bits; RS256 needs at least %d", n, MinRSABits)
	}
	if k.E < 3 || k.E%2 == 0 {
		return fmt.Errorf("the RSA public exponent %d is not an odd number over 2", k.E)
	}
	return nil
}

// newKey binds a key to its method and computes the header rjwt signs with:
// golang-jwt's {"alg","typ":"JWT"} plus "kid" when there is one, encoded as
// golang-jwt encodes it (json.Marshal of the map: keys sorted).
func newKey(kid string, m jwt.SigningMethod, verify, sign, public any, sigSize int) (*key, error) {
	if !utf8.ValidString(kid) {
		return nil, errors.New("the kid is not valid UTF-8")
	}
	h := map[string]any{"alg": m.Alg(), "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	header, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return &key{
		kid: kid, alg: m.Alg(), method: m,
		verify: verify, sign: sign, public: public,
		header: b64.EncodeToString(header), sigSize: sigSize,
	}, nil
}

// newCodec builds the token side of a client from cfg: signing, key
// selection and the parsers, judging times by clock.
func newCodec(cfg *config, clock func() time.Time) (*codec, error) {
	c := &codec{clock: clock, issuer: cfg.issuer, audience: cfg.audience}
	if cfg.signing == nil && len(cfg.verifying) == 0 {
		return nil, fmt.Errorf("rjwt: New: no key: pass WithSecret with at least %d random bytes, or WithSigningKey or WithVerificationKey; rjwt has no default key", MinSecretSize)
	}
	all := cfg.verifying
	if cfg.signing != nil {
		all = append([]*key{cfg.signing}, all...)
	}
	c.signer = cfg.signing
	c.keyList = all
	c.keys = make(map[string]*key, len(all))
	var algs []string
	for _, k := range all {
		if _, dup := c.keys[k.kid]; dup {
			return nil, fmt.Errorf("rjwt: New: two keys have the kid %q; each kid names one key", k.kid)
		}
		c.keys[k.kid] = k
		if k.macs != nil {
			c.fast = append(c.fast, k)
		}
		if !contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
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
	c.keyFunc = c.keyFor
	return c, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// keyFor is the general parser's key function: the key named by the
// header's kid (the empty kid when there is none), if the token's alg is
// that key's, no "crit", and the signature in its one accepted spelling
// (canonicalSig).
func (c *codec) keyFor(t *jwt.Token) (any, error) {
	if err := checkHeader(t.Header); err != nil {
		return nil, err
	}
	kid := ""
	if v, ok := t.Header["kid"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New(`the header's "kid" is not a string`)
		}
		kid = s
	}
	k := c.keys[kid]
	switch {
	case k == nil && kid == "":
		return nil, errors.New(`the header has no "kid", and every key of this client has one`)
	case k == nil:
		return nil, fmt.Errorf("no key has the kid %q", clip(kid))
	case t.Method.Alg() != k.alg:
		return nil, fmt.Errorf("the key %q is for %s, not %s", clip(kid), k.alg, clip(t.Method.Alg()))
	}
	if err := canonicalSig(k, t.Signature); err != nil {
		return nil, err
	}
	return k.verify, nil
}

// clip shortens what a token says before it goes into an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// fastKey returns the HS256 key whose own header token starts with, if any.
func (c *codec) fastKey(token string) *key {
	for _, k := range c.fast {
		if len(token) > len(k.header) && token[len(k.header)] == '.' && token[:len(k.header)] == k.header {
			return k
		}
	}
	return nil
}
