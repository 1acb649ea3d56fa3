// Package jws holds rjwt's signing and verification keys and the
// signature machinery behind them: key checks, each algorithm's one
// accepted signature spelling, deterministic ES256, pooled HMACs and the
// keys' public JWK form. It knows nothing of claims or of Redis.
package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretSize is the shortest HMAC key accepted: 32 bytes, the size of an
// HS256 digest (RFC 7518 §3.2).
const MinSecretSize = 32

// MinRSABits is the smallest RSA modulus accepted, signing or verifying.
const MinRSABits = 2048

// B64 is the only base64 rjwt reads: base64url without padding, strict (the
// unused low bits of a segment's last character must be zero, RFC 4648 §3.5),
// so that each token has exactly one accepted spelling.
var B64 = base64.RawURLEncoding.Strict()

// Canonical reports whether token is free of CR and LF. Go's base64 decoder
// skips them, strict or not, and every other byte outside base64url's
// alphabet already fails decoding on both paths (the fast path compares the
// header's bytes exactly), so these two are all that is left to refuse.
// IndexByte is vectorised: this costs a few nanoseconds per token.
func Canonical(token string) bool {
	return strings.IndexByte(token, '\n') < 0 && strings.IndexByte(token, '\r') < 0
}

// A Key signs or verifies tokens with exactly one algorithm, fixed by its Go
// type (RFC 8725 §3.1): a token whose "alg" is not its key's is refused, so
// an RSA public key can never be used as an HMAC secret.
type Key struct {
	Kid     string
	Alg     string
	Method  jwt.SigningMethod
	Verify  any    // what Method.Verify takes
	sign    any    // what Method.Sign takes; nil for a verification key
	Public  any    // the public key for JWKS; nil for an HMAC secret
	Header  string // base64url of the header rjwt signs with this key
	SigSize int    // bytes in a signature
	macs    *macPool
}

func SigningKey(kid string, k any) (*Key, error) {
	switch k := k.(type) {
	case []byte:
		return HMACKey(kid, k)
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

func VerificationKey(kid string, k any) (*Key, error) {
	switch k := k.(type) {
	case []byte:
		return HMACKey(kid, k)
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

func HMACKey(kid string, secret []byte) (*Key, error) {
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
func newKey(kid string, m jwt.SigningMethod, verify, sign, public any, sigSize int) (*Key, error) {
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
	return &Key{
		Kid: kid, Alg: m.Alg(), Method: m,
		Verify: verify, sign: sign, Public: public,
		Header: B64.EncodeToString(header), SigSize: sigSize,
	}, nil
}

// macState is per-call scratch for signing and verifying: an HMAC-SHA256
// keyed with one HS256 key's secret and buffers, pooled so the hot path does not
// build a new HMAC (two SHA-256 states and key pads) on every call.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
	sig [sha256.Size]byte
}

type macPool struct{ pool sync.Pool }

func newMacPool(secret []byte) *macPool {
	return &macPool{pool: sync.Pool{New: func() any {
		return &macState{mac: hmac.New(sha256.New, secret), buf: make([]byte, 0, 512)}
	}}}
}

func (p *macPool) get() *macState   { return p.pool.Get().(*macState) }
func (p *macPool) put(st *macState) { p.pool.Put(st) }

// HMAC reports whether k is an HS256 key (its tokens take the fast path).
func (k *Key) HMAC() bool { return k.macs != nil }

// AppendSig appends '.' and the base64url signature of signingInput (out
// itself) to out: deterministic for every algorithm, with a pooled HMAC for
// HS256.
func (k *Key) AppendSig(out []byte) ([]byte, error) {
	if k.macs == nil {
		var sig []byte
		var err error
		if ec, ok := k.sign.(*ecdsa.PrivateKey); ok {
			sig, err = signES256(ec, out)
		} else {
			sig, err = k.Method.Sign(string(out), k.sign)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k.Alg, err)
		}
		out = append(out, '.')
		return B64.AppendEncode(out, sig), nil
	}
	st := k.macs.get()
	st.mac.Reset()
	st.mac.Write(out)
	sum := st.mac.Sum(st.sum[:0])
	out = append(out, '.')
	out = B64.AppendEncode(out, sum)
	k.macs.put(st)
	return out, nil
}

// Sign makes the compact JWS of payload with k's own header.
func (k *Key) Sign(payload []byte) (string, error) {
	out := make([]byte, 0, k.TokenLen(len(payload)))
	out = append(out, k.Header...)
	out = append(out, '.')
	out, err := k.AppendSig(B64.AppendEncode(out, payload))
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// TokenLen is the length of the JWS Sign makes of a payload of n bytes.
func (k *Key) TokenLen(n int) int {
	return len(k.Header) + 1 + B64.EncodedLen(n) + 1 + B64.EncodedLen(k.SigSize)
}

// errBadSig is OpenHS256's answer to a signature that does not hold: its
// text is golang-jwt's (whose error is not in the chain).
var errBadSig = errors.New(jwt.ErrTokenSignatureInvalid.Error())

// OpenHS256 checks a token whose header is exactly HS256 key k's: that it
// has three segments and that its signature is the HMAC-SHA256 of the
// first two (in constant time), and then decodes its payload, with one
// pooled scratch buffer for both. Its errors read as golang-jwt's.
func (k *Key) OpenHS256(token string) ([]byte, error) {
	rest := token[len(k.Header)+1:]
	dot := strings.IndexByte(rest, '.')
	if dot < 0 || strings.IndexByte(rest[dot+1:], '.') >= 0 {
		return nil, fmt.Errorf("%v: token contains an invalid number of segments", jwt.ErrTokenMalformed)
	}
	signed, sig, payload := token[:len(k.Header)+1+dot], rest[dot+1:], rest[:dot]
	st := k.macs.get()
	defer k.macs.put(st)
	if B64.DecodedLen(len(sig)) != sha256.Size {
		return nil, errBadSig
	}
	st.buf = append(st.buf[:0], sig...)
	if n, err := B64.Decode(st.sig[:], st.buf); err != nil || n != sha256.Size {
		return nil, errBadSig
	}
	st.mac.Reset()
	st.buf = append(st.buf[:0], signed...)
	st.mac.Write(st.buf)
	if !hmac.Equal(st.mac.Sum(st.sum[:0]), st.sig[:]) {
		return nil, errBadSig
	}
	// The signature holds, so the payload is ours.
	st.buf = append(st.buf[:0], payload...)
	raw := make([]byte, B64.DecodedLen(len(payload)))
	n, err := B64.Decode(raw, st.buf)
	if err != nil {
		return nil, fmt.Errorf("%v: %v", jwt.ErrTokenMalformed, err)
	}
	return raw[:n], nil
}

// signES256 signs an ES256 JWS deterministically (RFC 6979; Go's ecdsa
// signs so when given no random source), so that the same claims make the
// same token: a refresh that Redis answers twice (a retry, the grace
// window) rebuilds the very same strings, as with HS256, EdDSA and RS256.
// The signature is R || S, 32 bytes each (RFC 7518 §3.4), with S low
// (CanonicalSig: the only spelling Verify accepts).
func signES256(k *ecdsa.PrivateKey, signingInput []byte) ([]byte, error) {
	digest := sha256.Sum256(signingInput)
	der, err := k.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("ecdsa signature: %v", err)
	}
	sig := make([]byte, 64)
	rs.R.FillBytes(sig[:32])
	LowS(rs.S).FillBytes(sig[32:])
	return sig, nil
}

// P256HalfOrder is ⌊n/2⌋ for P-256's group order n. An ECDSA signature (r, s)
// verifies exactly when (r, n−s) does, so each ES256 token would have two
// accepted spellings; rjwt accepts only the one with s ≤ n/2 ("low S", as
// Bitcoin's BIP 62 and Ethereum's EIP-2 do) and signs only that one.
var P256HalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// ErrSigSpelling is the general parser's answer to a signature that is not
// the one accepted spelling of itself (CanonicalSig).
var ErrSigSpelling = errors.New("the signature is not in its one accepted form")

// CanonicalSig refuses a signature that is not the single accepted spelling
// of a valid one, so that anything keyed by the token string (a deny list, a
// replay cache, a DPoP proof's ath) sees each token under one name:
//
//   - every algorithm: the signature has exactly its key's size (an RSA
//     signature one byte longer, with a leading zero, is the same number);
//   - ES256: s ≤ n/2 (low S), see P256HalfOrder.
//
// RS256 (PKCS #1 v1.5) is deterministic and crypto/rsa refuses a signature
// that is not below the modulus; Ed25519 (crypto/ed25519) refuses s ≥ L and
// compares R's encoding byte for byte: neither has a second spelling once the
// length is fixed (TestSignatureTwins checks each).
func CanonicalSig(k *Key, sig []byte) error {
	if len(sig) != k.SigSize {
		return fmt.Errorf("%w: %d bytes, not %d", ErrSigSpelling, len(sig), k.SigSize)
	}
	if k.Alg == "ES256" && new(big.Int).SetBytes(sig[32:]).Cmp(P256HalfOrder) > 0 {
		return fmt.Errorf("%w: an ES256 signature with a high s (rjwt accepts s ≤ n/2 only)", ErrSigSpelling)
	}
	return nil
}

// LowS replaces s by n−s when s > n/2, the accepted spelling of the same
// ECDSA signature (CanonicalSig).
func LowS(s *big.Int) *big.Int {
	if s.Cmp(P256HalfOrder) > 0 {
		return new(big.Int).Sub(elliptic.P256().Params().N, s)
	}
	return s
}

// JWK is one public key in a JWK Set (RFC 7517 §4, parameters of RFC 7518
// §6 and, for Ed25519, RFC 8037 §2).
type JWK struct {
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

// JWK is the key's public half as a JWK; an error for an HMAC secret.
func (k *Key) JWK() (JWK, error) {
	j := JWK{Use: "sig", Alg: k.Alg, Kid: k.Kid}
	enc := B64
	switch pub := k.Public.(type) {
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", enc.EncodeToString(pub)
	case *ecdsa.PublicKey:
		// The uncompressed point is 0x04 || x || y, each coordinate at the
		// curve's full size, as RFC 7518 §6.2.1.2 wants it.
		p, err := pub.Bytes()
		if err != nil {
			return JWK{}, err
		}
		size := (len(p) - 1) / 2
		j.Kty, j.Crv = "EC", "P-256"
		j.X, j.Y = enc.EncodeToString(p[1:1+size]), enc.EncodeToString(p[1+size:])
	case *rsa.PublicKey:
		j.Kty = "RSA"
		j.N = enc.EncodeToString(pub.N.Bytes())
		j.E = enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	default:
		return JWK{}, fmt.Errorf("no JWK form for %T", pub)
	}
	return j, nil
}

// TimesValid reports whether golang-jwt's validator, as the client builds it
// (exp required, iat checked, nbf when present, the leeway; no audience,
// issuer or subject, which checkClaims checks), certainly accepts claims
// at now. It is that validator's arithmetic without its allocations (an
// error slice on every call): true only when every check passes, so any
// failure is left to the validator itself, whose error is the one returned.
func TimesValid(rc *jwt.RegisteredClaims, now time.Time, leeway time.Duration) bool {
	if rc.ExpiresAt == nil || !now.Before(rc.ExpiresAt.Add(leeway)) {
		return false
	}
	if rc.NotBefore != nil && now.Before(rc.NotBefore.Add(-leeway)) {
		return false
	}
	return rc.IssuedAt == nil || !now.Before(rc.IssuedAt.Add(-leeway))
}
