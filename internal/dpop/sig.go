package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
)

// keyFor is the key type (and curve) that may sign with alg.
func keyFor(alg string) publicKey {
	switch alg {
	case "ES256":
		return publicKey{kty: "EC", crv: "P-256"}
	case "ES384":
		return publicKey{kty: "EC", crv: "P-384"}
	case "EdDSA", "Ed25519":
		return publicKey{kty: "OKP", crv: "Ed25519"}
	case "RS256", "PS256":
		return publicKey{kty: "RSA"}
	}
	return publicKey{kty: "none"}
}

// verify checks sig over signingInput with key, for alg (which keyFor has
// matched with the key's type).
//
// An ECDSA proof's s may be high or low: clients sign with WebCrypto,
// OpenSSL or crypto/ecdsa, none of which normalises s, so about half of
// real proofs have a high s. Its twin (s → n−s) is no new proof: it
// carries the same jti, which the replay set refuses, and nothing is keyed
// by a proof's string. (rjwt's own tokens, which are keyed by their
// string, accept a low s only.)
func verify(alg string, key *publicKey, signingInput string, sig []byte) error {
	ok := false
	switch alg {
	case "ES256":
		d := sha256.Sum256([]byte(signingInput))
		ok = verifyEC(key.key.(*ecdsa.PublicKey), d[:], sig, 32)
	case "ES384":
		d := sha512.Sum384([]byte(signingInput))
		ok = verifyEC(key.key.(*ecdsa.PublicKey), d[:], sig, 48)
	case "EdDSA", "Ed25519":
		// crypto/ed25519 refuses s ≥ L and a non-canonical R: one spelling.
		ok = ed25519.Verify(key.key.(ed25519.PublicKey), []byte(signingInput), sig)
	case "RS256":
		d := sha256.Sum256([]byte(signingInput))
		ok = rsa.VerifyPKCS1v15(key.key.(*rsa.PublicKey), crypto.SHA256, d[:], sig) == nil
	case "PS256":
		d := sha256.Sum256([]byte(signingInput))
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		ok = rsa.VerifyPSS(key.key.(*rsa.PublicKey), crypto.SHA256, d[:], sig, opts) == nil
	}
	if !ok {
		return invalid("the signature is not the jwk's over the proof")
	}
	return nil
}

// verifyEC checks a JWS ECDSA signature, R || S of size bytes each (RFC
// 7518 §3.4; not DER).
func verifyEC(pub *ecdsa.PublicKey, digest, sig []byte, size int) bool {
	if len(sig) != 2*size {
		return false
	}
	r := new(big.Int).SetBytes(sig[:size])
	s := new(big.Int).SetBytes(sig[size:])
	return ecdsa.Verify(pub, digest, r, s)
}
