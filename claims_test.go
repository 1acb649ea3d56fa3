package rjwt

import (
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

type jwtNumericDate = jwt.NumericDate

// TestClaimsDecodeDatesAsGolangJWTDoes checks the flat decoder against
// golang-jwt's own NumericDate decoding.
func TestClaimsDecodeDatesAsGolangJWTDoes(t *testing.T) {
	for _, v := range []string{
		`1795516142`, `1795516142.5`, `1795516142.123456789`, `-1`, `0`, `null`, `"1795516142"`, `1e3`,
		`1e400`, `"1e400"`, `""`, `"abc"`, `true`, `[]`, `{}`, `9223372036854775807`, `-0.5`,
	} {
		payload := `{"exp":` + v + `,"iat":` + v + `,"nbf":` + v + `}`
		var ours Claims
		ourErr := ours.UnmarshalJSON([]byte(payload))
		var ref struct {
			Exp *jwtNumericDate `json:"exp"`
			Iat *jwtNumericDate `json:"iat"`
			Nbf *jwtNumericDate `json:"nbf"`
		}
		refErr := json.Unmarshal([]byte(payload), &ref)
		if (ourErr == nil) != (refErr == nil) {
			t.Errorf("%s: ours %v, golang-jwt %v", v, ourErr, refErr)
			continue
		}
		if ourErr != nil {
			continue
		}
		same := func(a *jwtNumericDate, b *jwtNumericDate) bool {
			return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(b.Time))
		}
		if !same(ours.ExpiresAt, ref.Exp) || !same(ours.IssuedAt, ref.Iat) || !same(ours.NotBefore, ref.Nbf) {
			t.Errorf("%s: ours %v/%v/%v, golang-jwt %v/%v/%v", v, ours.ExpiresAt, ours.IssuedAt, ours.NotBefore, ref.Exp, ref.Iat, ref.Nbf)
		}
	}
}
