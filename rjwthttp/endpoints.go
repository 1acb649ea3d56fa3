package rjwthttp

import (
	"errors"
	"net/http"

	"github.com/rjwt/rjwt"
)

// Standard endpoints, so that a gateway or a service in another language
// asks rjwt over HTTP: token introspection (RFC 7662) and revocation (RFC
// 7009).

// maxEndpointBody bounds an introspection or revocation request's form.
const maxEndpointBody = 16 << 10

// introspection is an answer of IntrospectionHandler.
type introspection struct {
	Active    bool               `json:"active"`
	Sub       string             `json:"sub,omitempty"`
	Exp       int64              `json:"exp,omitempty"`
	Iat       int64              `json:"iat,omitempty"`
	JTI       string             `json:"jti,omitempty"`
	SID       string             `json:"sid,omitempty"`
	TokenType string             `json:"token_type,omitempty"`
	Iss       string             `json:"iss,omitempty"`
	Aud       []string           `json:"aud,omitempty"`
	Cnf       *rjwt.Confirmation `json:"cnf,omitempty"`
}

// IntrospectionHandler answers token introspection requests (RFC 7662):
// POST with an application/x-www-form-urlencoded body "token=..." (and an
// optional token_type_hint, not needed: rjwt tells its tokens apart).
// authorize decides who may ask (a gateway's shared secret, say): a request
// it refuses is answered 401. The answer is {"active":false} for anything
// not usable now (malformed, not this client's, expired, revoked, a refresh
// token rotated away), else {"active":true, "sub", "exp", "iat", "jti",
// "sid" (Claims.Session), "token_type": "access_token" or
// "refresh_token"}, with "iss" and "aud" when the token has them and "cnf"
// ({"jkt": ...}) for a token bound to a DPoP key: the caller then checks
// the request's DPoP proof against it (RFC 9449 §6.2). Redis unavailable:
// 503 with Retry-After. A request that is not POST: 405; no token: 400
// {"error":"invalid_request"}. It uses rjwt's Client.Introspect (one Redis
// round trip, no use recorded).
func IntrospectionHandler(c *rjwt.Client, authorize func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := endpointToken(w, r, authorize)
		if !ok {
			return
		}
		claims, err := c.Introspect(r.Context(), token)
		if err != nil {
			if failed(w, err) {
				return
			}
			writeJSON(w, http.StatusOK, introspection{Active: false})
			return
		}
		a := introspection{Active: true, Sub: claims.ID, JTI: claims.RegisteredClaims.ID, SID: claims.Session,
			TokenType: "access_token", Iss: claims.Issuer, Aud: claims.Audience, Cnf: claims.Confirmation}
		if claims.Type != "" {
			a.TokenType = "refresh_token"
		}
		if claims.ExpiresAt != nil {
			a.Exp = claims.ExpiresAt.Unix()
		}
		if claims.IssuedAt != nil {
			a.Iat = claims.IssuedAt.Unix()
		}
		writeJSON(w, http.StatusOK, a)
	})
}

// RevocationHandler answers token revocation requests (RFC 7009): POST
// with an application/x-www-form-urlencoded body "token=..." (and an
// optional token_type_hint, not needed). authorize decides who may ask: a
// request it refuses is answered 401. An access or a refresh token that is
// usable now has its session ended (every token of it stops working); the
// answer is 200 with an empty body, also for a token that is unknown,
// invalid, expired or already revoked (RFC 7009 §2.2). Redis unavailable:
// 503 with Retry-After (the client retries), another Redis failure 500.
// Not POST: 405; no token: 400
// {"error":"invalid_request"}. Two Redis round trips (Introspect, Revoke).
func RevocationHandler(c *rjwt.Client, authorize func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := endpointToken(w, r, authorize)
		if !ok {
			return
		}
		claims, err := c.Introspect(r.Context(), token)
		switch {
		case err == nil:
			err = c.Revoke(r.Context(), claims.Session)
		case errors.Is(err, rjwt.ErrTokenExpired):
			// An expired token still names a session that may live on
			// (its refresh token renews it): end that.
			var session string
			if session, err = c.SessionOf(token); err == nil {
				err = c.Revoke(r.Context(), session)
			}
		}
		if failed(w, err) {
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}

// endpointToken checks an endpoint request's method and caller and returns
// its token, or answers the request and reports false.
func endpointToken(w http.ResponseWriter, r *http.Request, authorize func(*http.Request) bool) (string, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "invalid_request", Description: "POST only"})
		return "", false
	}
	if authorize == nil || !authorize(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="rjwt", Bearer realm="rjwt"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "invalid_client", Description: "not authorized to ask"})
		return "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxEndpointBody)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid_request", Description: "a form body is required"})
		return "", false
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid_request", Description: "token is required"})
		return "", false
	}
	return token, true
}

// failed answers an error that is not the token's (Redis unavailable: 503
// with Retry-After; anything else: 500) and reports whether it did; a
// token's own fault (invalid, expired, revoked) it leaves to the caller.
func failed(w http.ResponseWriter, err error) bool {
	if err == nil || errors.Is(err, rjwt.ErrSessionNotFound) || errors.Is(err, rjwt.ErrInvalidToken) ||
		errors.Is(err, rjwt.ErrTokenExpired) || errors.Is(err, rjwt.ErrInvalidID) {
		return false
	}
	WriteError(w, err)
	return true
}
