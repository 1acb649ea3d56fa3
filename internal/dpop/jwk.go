package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
)

// MinRSABits and MaxRSABits bound an RSA proof key's modulus: below 2048
// bits is too weak (as for rjwt's own keys), above 8192 only costs time.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// privateMembers are the JWK members that carry private key material (RFC
// 7518 §6.2.2, §6.3.2, §6.4; "k" is a symmetric key). A proof's jwk with
// any of them is refused: the client has published its private key.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "r", "t", "k"}

// publicKey is a proof's jwk, checked: the Go key, the algorithms it may
// sign with, and its RFC 7638 thumbprint.
type publicKey struct {
	key crypto.PublicKey // *ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey
	kty string
	crv string // "P-256", "P-384", "Ed25519"; empty for RSA
	jkt string
}

// parseJWK reads a proof header's "jwk": an object with a public EC (P-256,
// P-384), OKP (Ed25519) or RSA key, every member in its one canonical
// encoding (base64url without padding, full-length EC coordinates, no
// leading zero in RSA's n and e), so that one key has one thumbprint.
func parseJWK(raw json.RawMessage) (*publicKey, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, invalid(`the header's "jwk" is not a JSON object`)
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, invalid(fmt.Sprintf(`the header's "jwk" has the private member %q: a proof carries a public key only`, name))
		}
	}
	kty, err := stringMember(m, "kty")
	if err != nil {
		return nil, err
	}
	switch kty {
	case "EC":
		return parseEC(m)
	case "OKP":
		return parseOKP(m)
	case "RSA":
		return parseRSA(m)
	}
	return nil, invalid(fmt.Sprintf(`the jwk's kty %q is not EC, OKP or RSA`, clip(kty)))
}

func parseEC(m map[string]json.RawMessage) (*publicKey, error) {
	crv, err := stringMember(m, "crv")
	if err != nil {
		return nil, err
	}
	var curve elliptic.Curve
	switch crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	default:
		return nil, invalid(fmt.Sprintf(`the EC jwk's crv %q is not P-256 or P-384`, clip(crv)))
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err := bytesMember(m, "x", size)
	if err != nil {
		return nil, err
	}
	y, err := bytesMember(m, "y", size)
	if err != nil {
		return nil, err
	}
	point := append(append([]byte{4}, x...), y...)
	key, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, invalid("the EC jwk is not a point on " + crv)
	}
	jkt := thumbprint(`{"crv":"` + crv + `","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`)
	return &publicKey{key: key, kty: "EC", crv: crv, jkt: jkt}, nil
}

func parseOKP(m map[string]json.RawMessage) (*publicKey, error) {
	crv, err := stringMember(m, "crv")
	if err != nil {
		return nil, err
	}
	if crv != "Ed25519" {
		return nil, invalid(fmt.Sprintf(`the OKP jwk's crv %q is not Ed25519`, clip(crv)))
	}
	x, err := bytesMember(m, "x", ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	jkt := thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(x) + `"}`)
	return &publicKey{key: ed25519.PublicKey(x), kty: "OKP", crv: crv, jkt: jkt}, nil
}

func parseRSA(m map[string]json.RawMessage) (*publicKey, error) {
	n, err := bytesMember(m, "n", -1)
	if err != nil {
		return nil, err
	}
	e, err := bytesMember(m, "e", -1)
	if err != nil {
		return nil, err
	}
	switch {
	case len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0:
		return nil, invalid(`the RSA jwk's "n" or "e" is empty or has a leading zero byte`)
	case len(e) > 4:
		return nil, invalid(`the RSA jwk's "e" is over 32 bits`)
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if bits := key.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
		return nil, invalid(fmt.Sprintf("the RSA jwk's modulus has %d bits, not %d to %d", bits, MinRSABits, MaxRSABits))
	}
	if key.E < 3 || key.E%2 == 0 || key.E > 1<<31-1 {
		return nil, invalid(`the RSA jwk's "e" is not an odd number from 3 to 2^31-1`)
	}
	jkt := thumbprint(`{"e":"` + b64.EncodeToString(e) + `","kty":"RSA","n":"` + b64.EncodeToString(n) + `"}`)
	return &publicKey{key: key, kty: "RSA", jkt: jkt}, nil
}

// thumbprint is RFC 7638's: base64url(SHA-256(the required members in
// lexicographic order, no whitespace)); canonical is that JSON.
func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// stringMember is m[name] as a non-empty JSON string.
func stringMember(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", invalid(fmt.Sprintf("the jwk has no %q", name))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", invalid(fmt.Sprintf("the jwk's %q is not a non-empty string", name))
	}
	return s, nil
}

// bytesMember is m[name] decoded from canonical base64url; size, when not
// negative, is the exact length it must have.
func bytesMember(m map[string]json.RawMessage, name string, size int) ([]byte, error) {
	s, err := stringMember(m, name)
	if err != nil {
		return nil, err
	}
	b, err := decode(s)
	if err != nil {
		return nil, invalid(fmt.Sprintf("the jwk's %q is not canonical base64url", name))
	}
	if size >= 0 && len(b) != size {
		return nil, invalid(fmt.Sprintf("the jwk's %q has %d bytes, not %d", name, len(b), size))
	}
	return b, nil
}

// Thumbprint is the RFC 7638 thumbprint of a public JWK (JSON) of a type a
// proof may carry: base64url(SHA-256) of its required members. A JWK with a
// private member, or not in canonical form, is ErrInvalid.
func Thumbprint(jwk []byte) (string, error) {
	k, err := parseJWK(jwk)
	if err != nil {
		return "", err
	}
	return k.jkt, nil
}
