package rjwt

import (
	"crypto/elliptic"
	"errors"
	"fmt"
	"math/big"
)

// p256HalfOrder is ⌊n/2⌋ for P-256's group order n. An ECDSA signature (r, s)
// verifies exactly when (r, n−s) does, so each ES256 token would have two
// accepted spellings; rjwt accepts only the one with s ≤ n/2 ("low S", as
// Bitcoin's BIP 62 and Ethereum's EIP-2 do) and signs only that one.
var p256HalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// errSigSpelling is the general parser's answer to a signature that is not
// the one accepted spelling of itself (canonicalSig).
var errSigSpelling = errors.New("the signature is not in its one accepted form")

// canonicalSig refuses a signature that is not the single accepted spelling
// of a valid one, so that anything keyed by the token string (a deny list, a
// replay cache, a DPoP proof's ath) sees each token under one name:
//
//   - every algorithm: the signature has exactly its key's size (an RSA
//     signature one byte longer, with a leading zero, is the same number);
//   - ES256: s ≤ n/2 (low S), see p256HalfOrder.
//
// RS256 (PKCS #1 v1.5) is deterministic and crypto/rsa refuses a signature
// that is not below the modulus; Ed25519 (crypto/ed25519) refuses s ≥ L and
// compares R's encoding byte for byte: neither has a second spelling once the
// length is fixed (TestSignatureTwins checks each).
func canonicalSig(k *key, sig []byte) error {
	if len(sig) != k.sigSize {
		return fmt.Errorf("%w: %d bytes, not %d", errSigSpelling, len(sig), k.sigSize)
	}
	if k.alg == "ES256" && new(big.Int).SetBytes(sig[32:]).Cmp(p256HalfOrder) > 0 {
		return fmt.Errorf("%w: an ES256 signature with a high s (rjwt accepts s ≤ n/2 only)", errSigSpelling)
	}
	return nil
}

// lowS replaces s by n−s when s > n/2, the accepted spelling of the same
// ECDSA signature (canonicalSig).
func lowS(s *big.Int) *big.Int {
	if s.Cmp(p256HalfOrder) > 0 {
		return new(big.Int).Sub(elliptic.P256().Params().N, s)
	}
	return s
}
