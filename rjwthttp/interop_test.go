package rjwthttp_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
	"github.com/rjwt/rjwt/rjwthttp"
)

// interopDir holds the Node script of internal/dpop's interop test, with
// its locked dependencies (panva's dpop and jose); `npm ci` installs them.
var interopDir = filepath.Join("..", "internal", "dpop", "testdata", "interop")

// needNode is dpoptest.NeedNode for the interop script's folder.
func needNode(t *testing.T) {
	t.Helper()
	dpoptest.NeedNode(t, interopDir)
}

type nodeRequest struct {
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	Nonce string `json:"nonce,omitempty"`
	Token string `json:"token,omitempty"`
}

type nodeProofs struct {
	Key    json.RawMessage `json:"key"`
	JKT    string          `json:"jkt"`
	Proofs []string        `json:"proofs"`
}

// panva has panva's dpop make proofs for reqs with key (nil: a new key of
// alg).
func panva(t *testing.T, alg string, key json.RawMessage, reqs ...nodeRequest) nodeProofs {
	t.Helper()
	if key == nil {
		key = json.RawMessage("null")
	}
	arg, err := json.Marshal(map[string]any{"alg": alg, "key": key, "requests": reqs})
	require.NoError(t, err)
	cmd := exec.Command("node", "interop.mjs", "proofs", string(arg))
	cmd.Dir = interopDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node interop.mjs proofs: %s", stderr.String())
	var p nodeProofs
	require.NoError(t, json.Unmarshal(out, &p))
	require.Len(t, p.Proofs, len(reqs))
	return p
}

// TestPanvaInterop: proofs made by panva's dpop (ES256, Ed25519) bind a
// session at registration through rjwthttp, with the server nonce dance,
// then verify at the middleware and refresh; a replayed proof is refused.
func TestPanvaInterop(t *testing.T) {
	needNode(t)
	for _, alg := range []string{"ES256", "Ed25519"} {
		t.Run(alg, func(t *testing.T) {
			c := newClient(t)
			srv := dpopServer(t, c, rjwthttp.WithDPoPNonce(rjwthttp.NewNonces(nil, time.Minute)))
			reg, api, ref := srv.URL+"/register", srv.URL+"/api", srv.URL+"/refreshToken"

			p := panva(t, alg, nil, nodeRequest{HTM: "POST", HTU: reg})
			r := send(t, "POST", reg, "", p.Proofs[0], creds)
			require.Equal(t, 401, r.status, r.body)
			require.Equal(t, "use_dpop_nonce", r.body["error"])
			nonce := r.header.Get("DPoP-Nonce")

			p = panva(t, alg, p.Key, nodeRequest{HTM: "POST", HTU: reg, Nonce: nonce})
			r = send(t, "POST", reg, "", p.Proofs[0], creds)
			require.Equal(t, 200, r.status, r.body)
			assert.Equal(t, "DPoP", r.body["token_type"])
			token, refresh := r.body["token"].(string), r.body["refreshToken"].(string)
			claims, err := c.Introspect(t.Context(), token)
			require.NoError(t, err)
			assert.Equal(t, p.JKT, claims.Confirmation.JKT, "the thumbprint panva computes")

			nonce = r.header.Get("DPoP-Nonce")
			p = panva(t, alg, p.Key, nodeRequest{HTM: "GET", HTU: api, Nonce: nonce, Token: token}, nodeRequest{HTM: "POST", HTU: ref, Nonce: nonce})
			r = send(t, "GET", api, "DPoP "+token, p.Proofs[0], nil)
			require.Equal(t, 200, r.status, r.body)
			r = send(t, "GET", api, "DPoP "+token, p.Proofs[0], nil)
			assert.Equal(t, 401, r.status, "a replayed proof")
			assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_dpop_proof"`)
			assert.Equal(t, 401, send(t, "GET", api, "Bearer "+token, "", nil).status)

			r = send(t, "POST", ref, "", p.Proofs[1], map[string]string{"refreshToken": refresh})
			require.Equal(t, 200, r.status, r.body)
			assert.Equal(t, "DPoP", r.body["token_type"])
			token = r.body["token"].(string)
			r = send(t, "POST", ref, "", p.Proofs[1], map[string]string{"refreshToken": r.body["refreshToken"].(string)})
			assert.Equal(t, 401, r.status, "a replayed refresh proof")

			p = panva(t, alg, p.Key, nodeRequest{HTM: "GET", HTU: api, Nonce: r.header.Get("DPoP-Nonce"), Token: token})
			r = send(t, "GET", api, "DPoP "+token, p.Proofs[0], nil)
			assert.Equal(t, 200, r.status, r.body)
		})
	}
}
