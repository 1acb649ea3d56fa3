package rjwthttp

import (
	"net/http"
	"strconv"
	"time"

	"github.com/rjwt/rjwt"
)

// JWKSMaxAge is how long JWKSHandler lets clients and caches keep the key
// set (Cache-Control max-age): 5 minutes. When rotating keys, wait at least
// this long between adding a verification key and signing with it, so that
// every verifier has fetched it.
const JWKSMaxAge = 5 * time.Minute

// JWKSHandler serves the client's public verification keys as a JWK Set
// (Client.JWKS) to GET and HEAD, as application/json with
// Cache-Control: public, max-age=300 (JWKSMaxAge); other methods get 405. It
// is public by nature: mount it where other services can fetch it, e.g.
// mux.Handle("GET /.well-known/jwks.json", rjwthttp.JWKSHandler(client)).
// HMAC secrets are never in the set. No Redis.
func JWKSHandler(c *rjwt.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		body, err := c.JWKS()
		if err != nil {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(JWKSMaxAge/time.Second)))
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body)
	})
}
