package rjwt

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

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

// TestClaimsDecodeFastAsUnmarshalJSON checks the fast decoder against
// UnmarshalJSON: where it accepts a payload it decodes it the same, and it
// accepts the payloads rjwt signs.
func TestClaimsDecodeFastAsUnmarshalJSON(t *testing.T) {
	must := []string{
		`{"id":"alice","rjwt":"alice:V1StGXR8_Z5jdHi6B-myT","ttl":900,"sub":"alice","exp":1795516142,"iat":1795515242,"jti":"abc"}`,
		`{"id":"al\u00e9","rjwt":"x","ttl":1}`[:0] + `{"id":"alé","rjwt":"alé:x","dataToken":{"role":"admin","n":[1,2,{"a":"b\"}"}]},"ttl":60,"iss":"me","aud":["a","b"],"exp":1,"nbf":2,"iat":3,"jti":"j"}`,
		`{"id":"u","rjwt":"u:n","dataToken":"str","ttl":0,"typ":"refresh","rti":"r","aud":"one"}`,
		`{"id":"u","dataToken":12.5e3,"ttl":-5}`,
		`{"id":"u","dataToken":[],"ttl":1}`,
		`{"id":"u","dataToken":true}`,
		` { "id" : "u" , "dataToken" : { } , "ttl" : 7 } `,
		`{}`,
		`{"id":"u","rjwt":"u:n","rti":"r","auth_time":1795515000,"amr":["pwd","otp"],"ttl":60,"exp":1,"iat":2}`,
		`{"id":"u","amr":[ "mfa" ],"auth_time":0}`,
	}
	other := []string{
		`{"amr":[]}`, `{"amr":"pwd"}`, `{"amr":null}`, `{"amr":["a",1]}`, `{"auth_time":1.5}`, `{"auth_time":"1"}`,
		`{"auth_time":null}`, `{"amr":["a"],"amr":["b"]}`, `{"amr":["a\"b"]}`,
		`{"id":"a\"b"}`, `{"ID":"x"}`, `{"id":"a","id":"b"}`, `{"ttl":1.5}`, `{"ttl":"1"}`, `{"exp":1.5}`,
		`{"exp":"1"}`, `{"exp":null}`, `{"dataToken":null}`, `{"aud":[]}`, `{"aud":null}`, `{"other":1}`,
		`{"id":"\xff"}`, `{"id":"a"} x`, `{"id":"a",}`, `{"dataToken":{"a":}}`, `{"ttl":01}`, `{"ttl":99999999999999999999}`,
		`[]`, ``, `{"id":"a"`, `{"dataToken":{"a":"b}`, `{"exp":1e3}`, `{"aud":["a",1]}`, "{\"id\":\"a\tb\"}",
	}
	for _, p := range append(must, other...) {
		decodeFastAgrees(t, p)
	}
	for _, p := range must {
		var c Claims
		if !c.decodeFast([]byte(p), nil) {
			t.Errorf("%s: fast path refused", p)
		}
	}
	for _, p := range other {
		var c Claims
		if c.decodeFast([]byte(p), nil) {
			t.Errorf("%s: fast path accepted", p)
		}
	}
}

// decodeFastAgrees checks that when decodeFast accepts p, UnmarshalJSON
// accepts it too and decodes the same claims.
func decodeFastAgrees(t *testing.T, p string) {
	t.Helper()
	var fast, slow Claims
	ok := fast.decodeFast([]byte(p), nil)
	errSlow := slow.UnmarshalJSON([]byte(p))
	if !ok {
		return
	}
	if errSlow != nil {
		t.Errorf("%q: fast accepts, UnmarshalJSON fails: %v", p, errSlow)
		return
	}
	fj, _ := json.Marshal(fast)
	sj, _ := json.Marshal(slow)
	if string(fj) != string(sj) || !reflect.DeepEqual(fast, slow) {
		t.Errorf("%q:\n fast %s\n slow %s", p, fj, sj)
	}
	// With the caller's storage for the dates (Verify's path), the same
	// claims, and the dates are in that storage.
	var inPlace Claims
	var dates [3]jwt.NumericDate
	if !inPlace.decodeFast([]byte(p), &dates) || !reflect.DeepEqual(inPlace, fast) {
		t.Errorf("%q: decoding into storage differs: %+v vs %+v", p, inPlace, fast)
	}
	for i, d := range []*jwt.NumericDate{inPlace.ExpiresAt, inPlace.NotBefore, inPlace.IssuedAt} {
		if d != nil && d != &dates[i] {
			t.Errorf("%q: date %d not in the caller's storage", p, i)
		}
	}
}

// FuzzDecodeFastAgreesWithUnmarshalJSON: whatever the hand-written decoder
// accepts, encoding/json decodes to the same claims (a token's payload is
// only decoded after its MAC checked, but the decoder must not be the
// weaker parser).
func FuzzDecodeFastAgreesWithUnmarshalJSON(f *testing.F) {
	for _, p := range []string{
		`{"id":"alice","rjwt":"alice:V1StGXR8_Z5jdHi6B-myT","ttl":900,"sub":"alice","exp":1795516142,"iat":1795515242,"jti":"abc"}`,
		`{"id":"alé","rjwt":"alé:x","dataToken":{"role":"admin","n":[1,2,{"a":"b\"}"}]},"ttl":60,"iss":"me","aud":["a","b"],"exp":1,"nbf":2,"iat":3,"jti":"j"}`,
		`{"id":"u","rjwt":"u:n","dataToken":"str","ttl":0,"typ":"refresh","rti":"r","aud":"one"}`,
		` { "id" : "u" , "dataToken" : { } , "ttl" : 7 } `, `{"ttl":-0}`, `{"exp":-1}`, `{"dataToken":-0.0e-1}`,
		`{"id":"u","auth_time":1795515000,"amr":["pwd","otp"],"ttl":60}`, `{"amr":[]}`, `{"auth_time":-3}`,
	} {
		f.Add(p)
	}
	f.Fuzz(decodeFastAgrees)
}

// FuzzMarshalClaimsAsJSON: the one-pass encoder writes what json.Marshal
// writes, for any strings and any valid data.
func FuzzMarshalClaimsAsJSON(f *testing.F) {
	f.Add("alice", "alice:V1StGXR8_Z5jdHi6B-myT", `{"role":"admin"}`, "iss", "aud", int64(900), int64(1795516142))
	f.Add(`a"b<>&\u2028`, "\x00é", `[1, 2 ,"x"]`, "", "", int64(-1), int64(-5))
	f.Fuzz(func(t *testing.T, id, session, data, iss, aud string, ttl, exp int64) {
		c := &Claims{ID: id, Session: session, TTL: time.Duration(ttl) * time.Second,
			RegisteredClaims: jwt.RegisteredClaims{Subject: id, Issuer: iss, ExpiresAt: jwt.NewNumericDate(time.Unix(exp, 0))}}
		if ttl%2 == 0 { // the authentication context, from the same inputs
			c.AuthTime, c.AMR = jwt.NewNumericDate(time.Unix(exp/2, 0)), []string{iss, aud}
		}
		if aud != "" {
			c.Audience = jwt.ClaimStrings{aud}
		}
		if json.Valid([]byte(data)) {
			c.DataToken = json.RawMessage(data)
		}
		got, err := marshalClaims(c)
		want, werr := json.Marshal(claimsWire{claimsAlias: (*claimsAlias)(c), TTL: int64(c.TTL.Seconds())})
		if (err == nil) != (werr == nil) {
			t.Fatalf("errors differ: %v vs json.Marshal %v", err, werr)
		}
		if err == nil && string(got) != string(want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// TestMarshalClaimsAsJSON checks the one-pass encoder against json.Marshal.
func TestMarshalClaimsAsJSON(t *testing.T) {
	at := jwt.NewNumericDate(time.Unix(1795516142, 600_000_000))
	base := func() *Claims {
		return &Claims{ID: "alice", Session: "alice:V1StGXR8_Z5jdHi6B-myT", TTL: 15 * time.Minute,
			RegisteredClaims: jwt.RegisteredClaims{Subject: "alice", ExpiresAt: at, IssuedAt: at, ID: "j1"}}
	}
	var cases []*Claims
	add := func(f func(*Claims)) { c := base(); f(c); cases = append(cases, c) }
	add(func(*Claims) {})
	add(func(c *Claims) { c.DataToken = json.RawMessage(`{"role":"admin","n":[1,2]}`) })
	add(func(c *Claims) { c.DataToken = json.RawMessage(`{ "a" : 1 }`) })
	add(func(c *Claims) { c.DataToken = json.RawMessage(`{"a":"<b>"}`) })
	add(func(c *Claims) { c.Type, c.RefreshID = "refresh", "r1" })
	add(func(c *Claims) { c.Issuer, c.Audience = "me", jwt.ClaimStrings{"a"} })
	add(func(c *Claims) { c.Audience = jwt.ClaimStrings{"a", "b"} })
	add(func(c *Claims) { c.ID, c.Subject = `a"b`, `a"b` })
	add(func(c *Claims) { c.ID = "é<&>" })
	add(func(c *Claims) {
		c.NotBefore = jwt.NewNumericDate(time.Unix(-5, 0))
		c.ExpiresAt = nil
		c.RegisteredClaims.ID = ""
	})
	add(func(c *Claims) { c.TTL = 1500 * time.Millisecond })
	add(func(c *Claims) {
		c.AuthTime, c.AMR = jwt.NewNumericDate(time.Unix(1795515000, 0)), []string{"pwd", "otp"}
	})
	add(func(c *Claims) { c.AMR = []string{} })
	add(func(c *Claims) { c.AMR = []string{"<x>"} })
	add(func(c *Claims) { c.AuthTime = at; c.Type, c.RefreshID = "refresh", "r1" })
	for _, single := range []bool{true, false} {
		jwt.MarshalSingleStringAsArray = single
		for _, c := range cases {
			got, err := marshalClaims(c)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(claimsWire{claimsAlias: (*claimsAlias)(c), TTL: int64(c.TTL.Seconds())})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("single=%v:\n got %s\nwant %s", single, got, want)
			}
		}
	}
	jwt.MarshalSingleStringAsArray = true
	if _, ok := appendClaims(nil, base()); !ok {
		t.Error("the usual claims took the slow path")
	}
}
