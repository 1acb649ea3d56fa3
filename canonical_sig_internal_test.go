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

// FuzzOneSpelling: for one token of each public-key algorithm (ES256,
// EdDSA, RS256), no signature bytes but the token's own verify: not its
// ES256 twin, not a longer or shorter form of the same number, not s + L.
func FuzzOneSpelling(f *testing.F) {
	k := keysForTest(f)
	var clients []*Client
	var toks []string
	for _, opt := range []Option{WithSigningKey("ec", k.ec), WithSigningKey("ed", k.ed), WithSigningKey("rsa", k.rsa)} {
		c := keyClient(f, opt)
		tok, err := c.signToken(testClaims())
		if err != nil {
			f.Fatal(err)
		}
		clients, toks = append(clients, c), append(toks, tok)
	}
	for i, tok := range toks {
		sig, _ := b64.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
		f.Add(uint8(i), sig)
		f.Add(uint8(i), append([]byte{0}, sig...))
		f.Add(uint8(i), sig[:len(sig)-1])
	}
	ecSig, _ := b64.DecodeString(toks[0][strings.LastIndexByte(toks[0], '.')+1:])
	twin := append([]byte(nil), ecSig...)
	new(big.Int).Sub(new(big.Int).Add(new(big.Int).Lsh(p256HalfOrder, 1), big.NewInt(1)), new(big.Int).SetBytes(ecSig[32:])).FillBytes(twin[32:])
	f.Add(uint8(0), twin)
	f.Fuzz(func(t *testing.T, which uint8, sig []byte) {
		i := int(which) % len(toks)
		tok := toks[i]
		own := tok[strings.LastIndexByte(tok, '.')+1:]
		spelled := tok[:strings.LastIndexByte(tok, '.')+1] + b64.EncodeToString(sig)
		if _, err := clients[i].parse(spelled); err == nil && b64.EncodeToString(sig) != own {
			t.Fatalf("a second spelling of a %s signature verifies: %x", clients[i].signer.Alg, sig)
		}
	})
}
