package main

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// withEndpoints mounts token introspection (RFC 7662) at POST
// /oauth/introspect and revocation (RFC 7009) at POST /oauth/revoke in
// front of next, for callers that present secret: "Authorization: Bearer
// <secret>", or Basic with the secret as the password (any user name). No
// secret: next alone (the endpoints are not served).
func withEndpoints(next http.Handler, c *rjwt.Client, secret string) http.Handler {
	if secret == "" {
		return next
	}
	authorize := func(r *http.Request) bool {
		given := ""
		if _, pw, ok := r.BasicAuth(); ok {
			given = pw
		} else if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			given = h[7:]
		}
		return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(secret)) == 1
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth/introspect", rjwthttp.IntrospectionHandler(c, authorize))
	mux.Handle("/oauth/revoke", rjwthttp.RevocationHandler(c, authorize))
	mux.Handle("/", next)
	return mux
}
