// Package dpoptest makes DPoP proofs (RFC 9449) for tests: a client's key
// pair and the proofs it signs, well-formed or not.
package dpoptest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

var b64 = base64.RawURLEncoding

// A Key is a client's DPoP key pair.
type Key struct {
	Alg string         // "ES256", "EdDSA" or "Ed25519" (RFC 9864's name for EdDSA with Ed25519)
	JWK map[string]any // the public key as a JWK, as a proof's header carries it
	JKT string         // its RFC 7638 thumbprint

	ec *ecdsa.PrivateKey
	ed ed25519.PrivateKey
}

// NewKey makes a fresh key pair for alg: "ES256", "EdDSA" or "Ed25519".
func NewKey(alg string) (*Key, error) {
	k := &Key{Alg: alg}
	switch alg {
	case "ES256":
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		k.ec = ec
		point, err := ec.PublicKey.Bytes() // 0x04 || x || y
		if err != nil {
			return nil, err
		}
		k.JWK = map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:])}
	case "EdDSA", "Ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		k.ed = priv
		k.JWK = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)}
	default:
		return nil, fmt.Errorf("dpoptest: no key for %q", alg)
	}
	// encoding/json writes a map's keys sorted and without whitespace: the
	// members RFC 7638 asks for are exactly those of JWK.
	canonical, err := json.Marshal(k.JWK)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canonical)
	k.JKT = b64.EncodeToString(sum[:])
	return k, nil
}

// Params are the claims of a proof; the zero JTI and IssuedAt are a fresh
// random id and now.
type Params struct {
	Method, URL string
	AccessToken string // when set, the proof carries its hash (ath)
	Nonce       string // when set, the proof carries it
	JTI         string
	IssuedAt    time.Time
}

// ATH is base64url(SHA-256(token)).
func ATH(token string) string {
	sum := sha256.Sum256([]byte(token))
	return b64.EncodeToString(sum[:])
}

// Claims are the proof claims p describes.
func (p Params) Claims() map[string]any {
	c := map[string]any{"htm": p.Method, "htu": p.URL, "jti": p.JTI, "iat": p.IssuedAt.Unix()}
	if p.JTI == "" {
		c["jti"] = rand.Text()
	}
	if p.IssuedAt.IsZero() {
		c["iat"] = time.Now().Unix()
	}
	if p.AccessToken != "" {
		c["ath"] = ATH(p.AccessToken)
	}
	if p.Nonce != "" {
		c["nonce"] = p.Nonce
	}
	return c
}

// Header is a proof's header: typ dpop+jwt, k's alg and public JWK.
func (k *Key) Header() map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": k.Alg, "jwk": k.JWK}
}

// Proof is a well-formed proof of p signed by k.
func (k *Key) Proof(p Params) string {
	return k.Sign(k.Header(), p.Claims())
}

// Sign signs any header and claims with k (whatever the header's alg
// says), for proofs that are wrong in one way.
func (k *Key) Sign(header, claims map[string]any) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	return input + "." + b64.EncodeToString(k.SignBytes([]byte(input)))
}

// SignBytes is k's JWS signature over input (ES256: R || S, with the s
// crypto/ecdsa draws, high or low).
func (k *Key) SignBytes(input []byte) []byte {
	if k.ed != nil {
		return ed25519.Sign(k.ed, input)
	}
	d := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, d[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig
}
