package rjwt

import (
	"math/big"
	"strings"
	"testing"
)

// lowSToken is an ES256 token in its low-s spelling, the one rjwt accepts
// (canonicalSig); it panics on a token that is not ES256-shaped.
func lowSToken(token string) string {
	dot := strings.LastIndexByte(token, '.')
	sig, err := b64.DecodeString(token[dot+1:])
	if err != nil || len(sig) != 64 {
		panic("not an ES256 token")
	}
	lowS(new(big.Int).SetBytes(sig[32:])).FillBytes(sig[32:])
	return token[:dot+1] + b64.EncodeToString(sig)
}

// TestLowS: lowS keeps a low s and maps a high one to n−s, which is low.
func TestLowS(t *testing.T) {
	n := new(big.Int).Lsh(p256HalfOrder, 1)
	n.Add(n, big.NewInt(1)) // n is odd: n = 2⌊n/2⌋ + 1
	for _, s := range []*big.Int{big.NewInt(1), new(big.Int).Set(p256HalfOrder)} {
		if lowS(s).Cmp(s) != 0 {
			t.Errorf("lowS(%v) changed a low s", s)
		}
	}
	high := new(big.Int).Add(p256HalfOrder, big.NewInt(1))
	if got := lowS(high); got.Cmp(p256HalfOrder) != 0 {
		t.Errorf("lowS(n/2+1) = %v, want n−(n/2+1) = n/2", got)
	}
	if got := lowS(new(big.Int).Sub(n, big.NewInt(1))); got.Cmp(big.NewInt(1)) != 0 {
		t.Errorf("lowS(n−1) = %v, want 1", got)
	}
}
