package rjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"math/big"
)

// jwk is one public key in a JWK Set (RFC 7517 §4, parameters of RFC 7518
// §6 and, for Ed25519, RFC 8037 §2).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// JWKS returns the client's public verification keys as an RFC 7517 JWK Set,
// {"keys":[...]}: the signing key's public half first, then the public keys
// given WithVerificationKey, in order. Each has "kid" (when not empty), "alg",
// "use":"sig" and its key parameters ("kty" OKP, EC or RSA). HMAC secrets are
// never in it: an HS256 key is left out, so a client with only HS256 keys
// returns {"keys":[]}. Serve it to other services (rjwthttp.JWKSHandler) so
// they can verify tokens without holding a secret. Give public keys a kid:
// JOSE libraries pick a key from a set by the token's kid (go-jose refuses a
// token without one). No Redis.
func (c *Client) JWKS() ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range c.keyList {
		if k.public == nil {
			continue
		}
		j, err := publicJWK(k)
		if err != nil {
			return nil, fmt.Errorf("rjwt: JWKS: key %q: %w", k.kid, err)
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}

func publicJWK(k *key) (jwk, error) {
	j := jwk{Use: "sig", Alg: k.alg, Kid: k.kid}
	enc := b64
	switch pub := k.public.(type) {
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", enc.EncodeToString(pub)
	case *ecdsa.PublicKey:
		// The uncompressed point is 0x04 || x || y, each coordinate at the
		// curve's full size, as RFC 7518 §6.2.1.2 wants it.
		p, err := pub.Bytes()
		if err != nil {
			return jwk{}, err
		}
		size := (len(p) - 1) / 2
		j.Kty, j.Crv = "EC", "P-256"
		j.X, j.Y = enc.EncodeToString(p[1:1+size]), enc.EncodeToString(p[1+size:])
	case *rsa.PublicKey:
		j.Kty = "RSA"
		j.N = enc.EncodeToString(pub.N.Bytes())
		j.E = enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	default:
		return jwk{}, fmt.Errorf("no JWK form for %T", pub)
	}
	return j, nil
}
