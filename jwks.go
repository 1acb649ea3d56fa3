package rjwt

import (
	"encoding/json"
	"fmt"

	"github.com/rjwt/rjwt/internal/jws"
)

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
		Keys []jws.JWK `json:"keys"`
	}{Keys: []jws.JWK{}}
	for _, k := range c.set.List {
		if k.Public == nil {
			continue
		}
		j, err := k.JWK()
		if err != nil {
			return nil, fmt.Errorf("rjwt: JWKS: key %q: %w", k.Kid, err)
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}
