package rjwt

import (
	"encoding/json"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rjwt/rjwt/internal/jsonfast"
)

// decodeFast decodes claims in the exact shape rjwt's tokens have (one
// flat object of known keys, each once, spelled exactly; strings without
// escapes; integer numbers; "dataToken" any valid JSON value but null; "aud"
// a string or a non-empty array of such strings) into c, as UnmarshalJSON
// would, and reports false, leaving c alone, for anything else: the caller
// then decodes with UnmarshalJSON, which handles every other input (and
// decides what is an error). The strings are substrings of raw itself (no
// copy) and DataToken is a slice of raw: raw must be the caller's own and
// never change afterwards. The dates are written into dates when it is not
// nil (so a caller can allocate them with the claims), else allocated.
func (c *Claims) decodeFast(raw []byte, dates *[3]jwt.NumericDate) bool {
	d := jsonfast.NewDecoder(raw, dates)
	var w Claims
	ok := d.Object(claimBits, func(key string) (ok bool) {
		switch key {
		case "id":
			w.ID, ok = d.Str()
		case "rjwt":
			w.Session, ok = d.Str()
		case "typ":
			w.Type, ok = d.Str()
		case "rti":
			w.RefreshID, ok = d.Str()
		case "iss":
			w.Issuer, ok = d.Str()
		case "sub":
			w.Subject, ok = d.Str()
		case "jti":
			w.RegisteredClaims.ID, ok = d.Str()
		case "ttl":
			var n int64
			n, ok = d.Int()
			w.TTL = time.Duration(n) * time.Second
		case "exp":
			w.ExpiresAt, ok = d.Date(0)
		case "nbf":
			w.NotBefore, ok = d.Date(1)
		case "iat":
			w.IssuedAt, ok = d.Date(2)
		case "aud":
			w.Audience, ok = d.Aud()
		case "dataToken":
			w.DataToken, ok = d.Raw()
		case "auth_time":
			w.AuthTime, ok = d.Date(-1)
		case "amr":
			w.AMR, ok = d.Strs()
		}
		return ok
	})
	if ok {
		*c = w
	}
	return ok
}

var claimBits = map[string]uint16{
	"id": 1 << 0, "rjwt": 1 << 1, "dataToken": 1 << 2, "ttl": 1 << 3, "typ": 1 << 4, "rti": 1 << 5,
	"iss": 1 << 6, "sub": 1 << 7, "aud": 1 << 8, "exp": 1 << 9, "nbf": 1 << 10, "iat": 1 << 11, "jti": 1 << 12,
	"auth_time": 1 << 13, "amr": 1 << 14,
}

// marshalClaims is json.Marshal of the claims as they stand in a token
// (claimsWire), byte for byte. Claims whose strings and data need no
// escaping or compacting (the usual case) are written in one pass; the rest
// go to json.Marshal.
func marshalClaims(c *Claims) ([]byte, error) {
	if b, ok := appendClaims(make([]byte, 0, 256), c); ok {
		return b, nil
	}
	return json.Marshal(claimsWire{claimsAlias: (*claimsAlias)(c), TTL: int64(c.TTL.Seconds())})
}

// appendClaims writes c as json.Marshal writes claimsWire, or reports false
// where that would take escaping, compacting or checks it does not do.
func appendClaims(b []byte, c *Claims) ([]byte, bool) {
	if jwt.TimePrecision != time.Second || c.Confirmation != nil || !jsonfast.PlainJSON(c.ID) { // cnf: json.Marshal writes it
		return nil, false
	}
	b = append(b, `{"id":"`...)
	b = append(b, c.ID...)
	w := jsonfast.Writer{B: append(b, '"'), OK: true}
	w.Str("rjwt", c.Session, false)
	w.Raw("dataToken", c.DataToken)
	w.Str("typ", c.Type, true)
	w.Str("rti", c.RefreshID, true)
	w.Date("auth_time", c.AuthTime)
	w.Strs("amr", c.AMR)
	w.Str("iss", c.Issuer, true)
	w.Str("sub", c.Subject, true)
	if len(c.Audience) == 1 && !jwt.MarshalSingleStringAsArray {
		w.Str("aud", c.Audience[0], false)
	} else {
		w.Strs("aud", c.Audience)
	}
	w.Date("exp", c.ExpiresAt)
	w.Date("nbf", c.NotBefore)
	w.Date("iat", c.IssuedAt)
	w.Str("jti", c.RegisteredClaims.ID, true)
	w.Int("ttl", int64(c.TTL.Seconds()))
	if !w.OK {
		return nil, false
	}
	return append(w.B, '}'), true
}
