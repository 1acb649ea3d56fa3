package jws

import (
	"errors"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// A Set is a client's keys: the signing key, if any, and the keys that
// only verify, each named by its kid.
type Set struct {
	Signer *Key            // nil: the client only verifies
	List   []*Key          // Signer first, then verification keys as given
	Algs   []string        // every key's algorithm, once each
	byKid  map[string]*Key // by kid
	fast   []*Key          // HS256 keys, matched by their exact header
}

// NewSet makes the set of signing (nil for none) and verifying; two keys
// with one kid are an error.
func NewSet(signing *Key, verifying []*Key) (*Set, error) {
	all := verifying
	if signing != nil {
		all = append([]*Key{signing}, all...)
	}
	s := &Set{Signer: signing, List: all, byKid: make(map[string]*Key, len(all))}
	for _, k := range all {
		if _, dup := s.byKid[k.Kid]; dup {
			return nil, fmt.Errorf("rjwt: New: two keys have the kid %q; each kid names one key", k.Kid)
		}
		s.byKid[k.Kid] = k
		if k.HMAC() {
			s.fast = append(s.fast, k)
		}
		if !slices.Contains(s.Algs, k.Alg) {
			s.Algs = append(s.Algs, k.Alg)
		}
	}
	return s, nil
}

// errCrit is KeyFor's answer to a header with "crit": it names extensions
// the recipient must understand, and rjwt understands none (RFC 7515 §4.1.11).
var errCrit = errors.New(`the header has "crit": rjwt supports no critical header extension`)

// KeyFor is the general parser's key function: the key named by the
// header's kid (the empty kid when there is none), if the token's alg is
// that key's, no "crit", and the signature in its one accepted spelling
// (CanonicalSig).
func (s *Set) KeyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	kid := ""
	if v, ok := t.Header["kid"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New(`the header's "kid" is not a string`)
		}
		kid = s
	}
	k := s.byKid[kid]
	switch {
	case k == nil && kid == "":
		return nil, errors.New(`the header has no "kid", and every key of this client has one`)
	case k == nil:
		return nil, fmt.Errorf("no key has the kid %q", clip(kid))
	case t.Method.Alg() != k.Alg:
		return nil, fmt.Errorf("the key %q is for %s, not %s", clip(kid), k.Alg, clip(t.Method.Alg()))
	}
	if err := CanonicalSig(k, t.Signature); err != nil {
		return nil, err
	}
	return k.Verify, nil
}

// clip shortens what a token says before it goes into an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Fast returns the HS256 key whose own header token starts with, if any.
func (s *Set) Fast(token string) *Key {
	for _, k := range s.fast {
		if len(token) > len(k.Header) && token[len(k.Header)] == '.' && token[:len(k.Header)] == k.Header {
			return k
		}
	}
	return nil
}
