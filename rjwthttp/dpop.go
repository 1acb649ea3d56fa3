package rjwthttp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/dpop"
)

// DPoP (RFC 9449): the middleware accepts "Authorization: DPoP <token>"
// with a "DPoP" proof header, and the handlers bind a session to the key
// of the proof a login, register or refresh request carries. docs/dpop.md
// has the client's side.

// dpopConfig is the DPoP configuration the middleware and the handlers
// share.
type dpopConfig struct {
	base   string  // WithPublicURL: scheme://host[:port][/prefix], no trailing slash
	nonces *Nonces // WithDPoPNonce
}

// WithPublicURL sets the public base URL of the service, for DPoP: a
// proof's htu must be this URL followed by the request's path (query and
// fragment ignored), e.g. "https://api.example.com" or, behind a proxy that
// strips a prefix, "https://example.com/api". Without it the URL is the
// request's own: https when it came over TLS, else http, and its Host.
// Give the same value to Middleware and NewHandlers.
func WithPublicURL(base string) SharedOption {
	base = strings.TrimRight(base, "/")
	return SharedOption{
		middleware: func(c *config) { c.dpop.base = base },
		handlers:   func(h *Handlers) { h.dpop.base = base },
	}
}

// WithDPoPNonce makes DPoP proofs carry a server nonce (RFC 9449 §8) that n
// issued and still accepts: every response to a request with a DPoP header
// carries a fresh one in the "DPoP-Nonce" header, and a proof without a
// valid nonce is answered 401 with WWW-Authenticate: DPoP
// error="use_dpop_nonce" (the client retries with the nonce it was sent).
// Give the same value to Middleware and NewHandlers.
func WithDPoPNonce(n *Nonces) SharedOption {
	return SharedOption{
		middleware: func(c *config) { c.dpop.nonces = n },
		handlers:   func(h *Handlers) { h.dpop.nonces = n },
	}
}

// Nonces issues and checks DPoP server nonces without storage: a nonce is
// its issue time and an HMAC of it, accepted for its lifetime. Instances
// that share a key accept each other's nonces. Safe for concurrent use.
type Nonces struct {
	key  []byte
	life time.Duration
	now  func() time.Time
}

// NewNonces makes nonces keyed with key (nil: a random key, good for one
// process only), each accepted for lifetime (at least a second; 0: five
// minutes).
func NewNonces(key []byte, lifetime time.Duration) *Nonces {
	if key == nil {
		key = []byte(rand.Text() + rand.Text())
	}
	if lifetime <= 0 {
		lifetime = 5 * time.Minute
	}
	return &Nonces{key: slices.Clone(key), life: max(lifetime, time.Second), now: time.Now}
}

func (n *Nonces) mac(ts []byte) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write(ts)
	return m.Sum(nil)[:16]
}

// Issue makes a fresh nonce.
func (n *Nonces) Issue() string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 24), uint64(n.now().Unix()))
	return base64.RawURLEncoding.EncodeToString(append(b, n.mac(b)...))
}

// Valid reports whether nonce is one n issued within its lifetime.
func (n *Nonces) Valid(nonce string) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 || !hmac.Equal(b[8:], n.mac(b[:8])) {
		return false
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	now := n.now()
	return !at.After(now.Add(5*time.Second)) && now.Sub(at) <= n.life
}

// htu is the URL a proof for r must name.
func (d *dpopConfig) htu(r *http.Request) string {
	if d.base != "" {
		return d.base + r.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// proof is the DPoP proof r carries (nil: none), for rjwt. With nonces, it
// also gives the response a fresh DPoP-Nonce. More than one DPoP header is
// ErrInvalidProof (RFC 9449 §4.3).
func (d *dpopConfig) proof(w http.ResponseWriter, r *http.Request) (*rjwt.Proof, error) {
	vals := r.Header.Values("DPoP")
	if len(vals) == 0 {
		return nil, nil
	}
	p := &rjwt.Proof{JWT: strings.TrimSpace(vals[0]), Method: r.Method, URL: d.htu(r)}
	if d.nonces != nil {
		w.Header().Set("DPoP-Nonce", d.nonces.Issue())
		p.Nonce = d.nonces.Valid
	}
	if len(vals) > 1 {
		return p, dpopFault{fmt.Errorf("%w: more than one DPoP header", rjwt.ErrInvalidProof)}
	}
	return p, nil
}

// loginProof is proof, checked at once: a login or registration refuses a
// bad proof before the account store does anything.
func (d *dpopConfig) loginProof(c *rjwt.Client, w http.ResponseWriter, r *http.Request) (*rjwt.Proof, error) {
	p, err := d.proof(w, r)
	if err == nil && p != nil {
		_, err = c.CheckProof(*p)
	}
	if err != nil {
		return nil, dpopFault{err}
	}
	return p, nil
}

// requestToken is the request's token and DPoP proof: "Authorization:
// DPoP <token>" with a DPoP header, or else the token sources' token
// without a proof.
func (cfg *config) requestToken(w http.ResponseWriter, r *http.Request, cookies *cookieMode) (string, *rjwt.Proof, error) {
	h := r.Header.Get("Authorization")
	if len(h) > 5 && strings.EqualFold(h[:5], "dpop ") {
		p, err := cfg.dpop.proof(w, r)
		if err == nil && p == nil {
			err = dpopFault{fmt.Errorf("%w: Authorization: DPoP without a DPoP header", rjwt.ErrInvalidProof)}
		}
		return strings.TrimSpace(h[5:]), p, err
	}
	token, err := cfg.token(r, cookies)
	return token, nil, err
}

// verifyOpts are vopts, and WithProof when there is a proof.
func verifyOpts(vopts []rjwt.VerifyOption, p *rjwt.Proof) []rjwt.VerifyOption {
	if p == nil {
		return vopts
	}
	return append(slices.Clip(vopts), rjwt.WithProof(*p))
}

// dpopErr marks the error of a request that used DPoP (or a bound token), so
// that it is answered with WWW-Authenticate: DPoP.
func dpopErr(err error, p *rjwt.Proof) error {
	if p != nil || errors.Is(err, rjwt.ErrInvalidProof) {
		return dpopFault{err}
	}
	return err
}

// dpopFault is an error of a DPoP request.
type dpopFault struct{ err error }

func (e dpopFault) Error() string { return e.err.Error() }
func (e dpopFault) Unwrap() error { return e.err }

// dpopAlgs is the algs parameter of WWW-Authenticate: DPoP.
var dpopAlgs = strings.Join(dpop.DefaultAlgs, " ")

// dpopUnauthorized answers 401 with WWW-Authenticate: DPoP (RFC 9449 §7.1).
func dpopUnauthorized(w http.ResponseWriter, code, description string) {
	description = strings.NewReplacer(`"`, `'`, `\`, `/`).Replace(description)
	w.Header().Set("WWW-Authenticate", `DPoP algs="`+dpopAlgs+`", error="`+code+`", error_description="`+description+`"`)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: code, Description: description})
}

// isDPoP reports whether err is of a DPoP request.
func isDPoP(err error) bool {
	var f dpopFault
	return errors.As(err, &f)
}

// typedPair is a pair answered to a DPoP login or refresh: rjwt.Pair's JSON
// with "token_type": "DPoP".
type typedPair struct{ rjwt.Pair }

func (p typedPair) MarshalJSON() ([]byte, error) {
	b, err := p.Pair.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b[:len(b)-1], `,"token_type":"DPoP"}`...), nil
}

// pairAnswer is the JSON answer for pair: typed DPoP when it is bound.
func pairAnswer(pair rjwt.Pair, p *rjwt.Proof) any {
	if p != nil {
		return typedPair{pair}
	}
	return pair
}
