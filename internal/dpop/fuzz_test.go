package dpop_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rjwt/rjwt/internal/dpop"
	"github.com/rjwt/rjwt/internal/dpop/dpoptest"
)

// fuzzKey signs FuzzProofJSON's inputs: one fixed Ed25519 key, so the
// fuzzer's JSON reaches the checks after the signature.
var fuzzKey, _ = dpoptest.NewKey("Ed25519")

// seeds are valid proofs of each algorithm and a few near misses.
func seeds(f *testing.F) []string {
	var out []string
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519"} {
		k, err := dpoptest.NewKey(alg)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, k.Proof(params()))
		p := params()
		p.Nonce = "n-1"
		out = append(out, k.Proof(p))
	}
	good := out[0]
	out = append(out, good[:len(good)-2], good+"A", strings.Replace(good, ".", "..", 1), "", "..", "a.b.c")
	return out
}

// checkOutcome is what every answer of Check must satisfy.
func checkOutcome(t *testing.T, proof string, res dpop.Result, err error) {
	if err != nil {
		if !errors.Is(err, dpop.ErrInvalid) {
			t.Fatalf("an error that is not ErrInvalid: %v", err)
		}
		return
	}
	switch {
	case len(proof) > dpop.MaxProofSize:
		t.Fatalf("accepted a proof of %d bytes", len(proof))
	case res.JTI == "" || len(res.JTI) > dpop.MaxJTILen:
		t.Fatalf("accepted the jti %q", res.JTI)
	case len(res.JKT) != 43:
		t.Fatalf("accepted with the thumbprint %q", res.JKT)
	case strings.ContainsAny(proof, "\r\n="):
		t.Fatalf("accepted a proof with CR, LF or padding: %q", proof)
	}
	// Whatever Check accepts, a plain reading agrees with: the claims are
	// the request's, the header is a DPoP proof's with a public key.
	parts := strings.Split(proof, ".")
	var h, c map[string]any
	if json.Unmarshal(mustDecode(parts[0]), &h) != nil || json.Unmarshal(mustDecode(parts[1]), &c) != nil {
		t.Fatalf("accepted a proof whose parts are not JSON")
	}
	if c["htm"] != "GET" || c["jti"] != res.JTI || c["ath"] != dpoptest.ATH(testToken) || !strings.EqualFold(h["typ"].(string), "dpop+jwt") {
		t.Fatalf("accepted claims %v, header %v", c, h)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := h["jwk"].(map[string]any)[private]; ok {
			t.Fatalf("accepted a jwk with %q", private)
		}
	}
}

// FuzzProof: Check on any string never panics, answers ErrInvalid or a
// result that a plain reading of the proof agrees with, and the same
// answer twice.
func FuzzProof(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, proof string) {
		res, err := checker().Check(proof, request())
		checkOutcome(t, proof, res, err)
		again, err2 := checker().Check(proof, request())
		if again != res || (err == nil) != (err2 == nil) {
			t.Fatalf("two answers for one proof: %v %v / %v %v", res, err, again, err2)
		}
	})
}

// FuzzProofJSON: any header and payload JSON, correctly signed by one key,
// so the fuzzer explores the JSON checks behind the signature.
func FuzzProofJSON(f *testing.F) {
	for _, s := range seeds(f)[:6] {
		parts := strings.Split(s, ".")
		f.Add(mustDecode(parts[0]), mustDecode(parts[1]))
	}
	h, _ := json.Marshal(fuzzKey.Header())
	f.Add(h, []byte(`{"htm":"GET","htu":"HTTPS://API.EXAMPLE.COM:443/v1/./items?x#y","jti":"j","iat":1800000000.5,"ath":"`+dpoptest.ATH(testToken)+`"}`))
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		enc := base64.RawURLEncoding
		input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
		proof := input + "." + enc.EncodeToString(fuzzKey.SignBytes([]byte(input)))
		res, err := checker().Check(proof, request())
		checkOutcome(t, proof, res, err)
	})
}
