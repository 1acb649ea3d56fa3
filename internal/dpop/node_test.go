package dpop_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt/internal/dpop"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
)

// interopDir holds the Node script and its locked dependencies (panva's
// dpop and jose); node_modules is installed there by `npm ci` and ignored
// by git.
const interopDir = "testdata/interop"

// needNode is dpoptest.NeedNode for the interop script's folder.
func needNode(t *testing.T) {
	t.Helper()
	dpoptest.NeedNode(t, interopDir)
}

// node runs the interop script.
func node(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("node", append([]string{"interop.mjs"}, args...)...)
	cmd.Dir = interopDir
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node interop.mjs %s: %s", args[0], stderr.String())
	return out
}

// TestNodeInterop: proofs made by panva's dpop (ES256, Ed25519 under RFC
// 9864's name, PS256, RS256) and jose (ES256, EdDSA) pass Check, with the
// thumbprint those packages compute; and jose verifies the proofs this
// package's test maker signs (ES256, EdDSA, Ed25519), while refusing
// tampered ones.
func TestNodeInterop(t *testing.T) {
	needNode(t)
	const url, token, nonce = "https://api.example.com/v1/items", "an.access.token", "nonce-1"
	req, err := json.Marshal(map[string]string{"htu": url, "htm": "POST", "nonce": nonce, "token": token})
	require.NoError(t, err)
	var made []struct{ Maker, Alg, Proof, JKT string }
	require.NoError(t, json.Unmarshal(node(t, nil, "make", string(req)), &made))
	require.Len(t, made, 24)
	c := &dpop.Checker{}
	r := dpop.Request{Method: "POST", URL: url, AccessToken: token, Nonce: func(n string) bool { return n == nonce }}
	highS := 0
	for _, p := range made {
		r.JKT = p.JKT
		res, err := c.Check(p.Proof, r)
		require.NoError(t, err, "%s %s", p.Maker, p.Alg)
		assert.Equal(t, p.Alg, res.Alg)
		if p.Alg == "ES256" && isHighS(t, p.Proof) {
			highS++
		}
		wrong := r
		wrong.Method = "GET"
		_, err = c.Check(p.Proof, wrong)
		require.ErrorIs(t, err, dpop.ErrInvalid)
	}
	t.Logf("%d of 8 ES256 proofs from Node have a high s", highS)

	type goProof struct {
		Proof string `json:"proof"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		Token string `json:"token"`
		Nonce string `json:"nonce"`
		JKT   string `json:"jkt"`
	}
	var ours []goProof
	for _, alg := range []string{"ES256", "ES256", "EdDSA", "Ed25519"} {
		k, err := dpoptest.NewKey(alg)
		require.NoError(t, err)
		for i := 0; i < 2; i++ {
			proof := k.Proof(dpoptest.Params{Method: "POST", URL: url, AccessToken: token, Nonce: nonce})
			_, err := c.Check(proof, dpop.Request{Method: "POST", URL: url, AccessToken: token, JKT: k.JKT})
			require.NoError(t, err)
			ours = append(ours, goProof{proof, "POST", url, token, nonce, k.JKT})
		}
	}
	// Controls: jose must refuse a proof with another ath, and one whose
	// signature is another key's.
	other, err := dpoptest.NewKey("ES256")
	require.NoError(t, err)
	badATH := ours[0]
	badATH.Proof = other.Proof(dpoptest.Params{Method: "POST", URL: url, AccessToken: token + "x", Nonce: nonce})
	badATH.JKT = other.JKT
	badSig := ours[0]
	foreign := other.Proof(dpoptest.Params{Method: "POST", URL: url})
	badSig.Proof = ours[0].Proof[:strings.LastIndexByte(ours[0].Proof, '.')] + foreign[strings.LastIndexByte(foreign, '.'):]
	in, err := json.Marshal(append(ours, badATH, badSig))
	require.NoError(t, err)
	var verdicts []struct {
		OK    bool
		Error string
	}
	require.NoError(t, json.Unmarshal(node(t, in, "verify"), &verdicts))
	require.Len(t, verdicts, len(ours)+2)
	for i := range ours {
		assert.True(t, verdicts[i].OK, "jose refused our proof %d: %s", i, verdicts[i].Error)
	}
	assert.False(t, verdicts[len(ours)].OK, "jose accepted a proof with the wrong ath")
	assert.False(t, verdicts[len(ours)+1].OK, "jose accepted a proof with another key's signature")
}

func isHighS(t *testing.T, proof string) bool {
	sig, err := base64.RawURLEncoding.DecodeString(proof[strings.LastIndexByte(proof, '.')+1:])
	require.NoError(t, err)
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	return new(big.Int).SetBytes(sig[32:]).Cmp(half) > 0
}
