package rjwt

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
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
	d := fastDecoder{b: raw, s: unsafe.String(unsafe.SliceData(raw), len(raw)), dates: dates}
	var w Claims
	var seen uint16
	d.space()
	if !d.byte('{') {
		return false
	}
	d.space()
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			key, ok := d.str()
			if !ok {
				return false
			}
			d.space()
			if !d.byte(':') {
				return false
			}
			d.space()
			bit, ok := claimBits[key]
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			switch key {
			case "id":
				w.ID, ok = d.str()
			case "rjwt":
				w.Session, ok = d.str()
			case "typ":
				w.Type, ok = d.str()
			case "rti":
				w.RefreshID, ok = d.str()
			case "iss":
				w.Issuer, ok = d.str()
			case "sub":
				w.Subject, ok = d.str()
			case "jti":
				w.RegisteredClaims.ID, ok = d.str()
			case "ttl":
				var n int64
				n, ok = d.int()
				w.TTL = time.Duration(n) * time.Second
			case "exp":
				w.ExpiresAt, ok = d.date(0)
			case "nbf":
				w.NotBefore, ok = d.date(1)
			case "iat":
				w.IssuedAt, ok = d.date(2)
			case "aud":
				w.Audience, ok = d.aud()
			case "dataToken":
				w.DataToken, ok = d.raw()
			case "auth_time", "amr":
				ok = d.authClaim(key, &w)
			}
			if !ok {
				return false
			}
			d.space()
			if d.byte('}') {
				break
			}
			if !d.byte(',') {
				return false
			}
			d.space()
		}
	}
	d.space()
	if d.i != len(d.b) {
		return false
	}
	*c = w
	return true
}

var claimBits = map[string]uint16{
	"id": 1 << 0, "rjwt": 1 << 1, "dataToken": 1 << 2, "ttl": 1 << 3, "typ": 1 << 4, "rti": 1 << 5,
	"iss": 1 << 6, "sub": 1 << 7, "aud": 1 << 8, "exp": 1 << 9, "nbf": 1 << 10, "iat": 1 << 11, "jti": 1 << 12,
	"auth_time": 1 << 13, "amr": 1 << 14, // lifecycle.go
}

type fastDecoder struct {
	b     []byte
	s     string // b as a string, for substrings without copies
	i     int
	dates *[3]jwt.NumericDate // exp, nbf, iat; nil: allocate each
}

func (d *fastDecoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastDecoder) byte(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// str reads a string without escapes or control characters, in valid UTF-8.
func (d *fastDecoder) str() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	start, ascii := d.i, true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			if !ascii && !utf8.ValidString(s) {
				return "", false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
		d.i++
	}
	return "", false
}

// digits reads -?[0-9]+ with no leading zero, as JSON writes an integer.
func (d *fastDecoder) digits() (string, bool) {
	start := d.i
	d.byte('-')
	first := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == first || (d.b[first] == '0' && d.i-first > 1) {
		return "", false
	}
	switch d.peek() {
	case '.', 'e', 'E':
		return "", false
	}
	return d.s[start:d.i], true
}

func (d *fastDecoder) int() (int64, bool) {
	s, ok := d.digits()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// date reads an integer date as numericDate does, into d.dates[i] when
// the caller gave storage (i < 0: always allocated).
func (d *fastDecoder) date(i int) (*jwt.NumericDate, bool) {
	s, ok := d.digits()
	if !ok {
		return nil, false
	}
	var dst *jwt.NumericDate
	if d.dates != nil && i >= 0 {
		dst = &d.dates[i]
	}
	date, err := numericDateInto(json.Number(s), dst)
	return date, err == nil && date != nil
}

// aud reads a string, or a non-empty array of strings, as
// jwt.ClaimStrings does.
func (d *fastDecoder) aud() (jwt.ClaimStrings, bool) {
	if d.peek() == '"' {
		s, ok := d.str()
		return jwt.ClaimStrings{s}, ok
	}
	if !d.byte('[') {
		return nil, false
	}
	var out jwt.ClaimStrings
	for {
		d.space()
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		d.space()
		if d.byte(']') {
			return out, true
		}
		if !d.byte(',') {
			return nil, false
		}
	}
}

// raw reads any JSON value but null, as a slice of the input.
func (d *fastDecoder) raw() (json.RawMessage, bool) {
	start, depth := d.i, 0
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case '"':
			d.i++
			for d.i < len(d.b) && d.b[d.i] != '"' {
				if d.b[d.i] == '\\' {
					d.i++
				}
				d.i++
			}
			if d.i >= len(d.b) {
				return nil, false
			}
			d.i++
		case '{', '[':
			depth++
			d.i++
		case '}', ']':
			if depth == 0 {
				return d.end(start)
			}
			depth--
			d.i++
		case ',':
			if depth == 0 {
				return d.end(start)
			}
			d.i++
		default:
			d.i++
		}
		if depth == 0 && d.i > start && (d.b[start] == '"' || d.b[start] == '{' || d.b[start] == '[') {
			return d.end(start)
		}
	}
	return d.end(start)
}

func (d *fastDecoder) end(start int) (json.RawMessage, bool) {
	v := d.b[start:d.i]
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t' || v[len(v)-1] == '\n' || v[len(v)-1] == '\r') {
		v = v[:len(v)-1]
	}
	if len(v) == 0 || v[0] == 'n' || !json.Valid(v) {
		return nil, false
	}
	return json.RawMessage(v[:len(v):len(v)]), true
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
	if jwt.TimePrecision != time.Second || c.Confirmation != nil { // cnf: json.Marshal writes it
		return nil, false
	}
	var ok bool
	str := func(name, v string, omitEmpty bool) {
		if !ok || (omitEmpty && v == "") {
			return
		}
		if !plainJSON(v) {
			ok = false
			return
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':', '"')
		b = append(b, v...)
		b = append(b, '"')
	}
	date := func(name string, d *jwt.NumericDate) {
		if !ok || d == nil {
			return
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, d.Truncate(time.Second).Unix(), 10)
	}
	if !plainJSON(c.ID) {
		return nil, false
	}
	ok = true
	b = append(b, `{"id":"`...)
	b = append(b, c.ID...)
	b = append(b, '"')
	str("rjwt", c.Session, false)
	if ok && len(c.DataToken) > 0 {
		for _, x := range c.DataToken {
			if x <= ' ' || x >= 0x7f || x == '<' || x == '>' || x == '&' {
				return nil, false // json.Marshal would compact or escape it
			}
		}
		if !json.Valid(c.DataToken) {
			return nil, false
		}
		b = append(b, `,"dataToken":`...)
		b = append(b, c.DataToken...)
	}
	str("typ", c.Type, true)
	str("rti", c.RefreshID, true)
	b, ok = appendAuth(b, c, ok)
	str("iss", c.Issuer, true)
	str("sub", c.Subject, true)
	if ok && len(c.Audience) > 0 {
		if len(c.Audience) == 1 && !jwt.MarshalSingleStringAsArray {
			str("aud", c.Audience[0], false)
		} else if !appendStrs(&b, "aud", c.Audience) { // authctx.go
			return nil, false
		}
	}
	date("exp", c.ExpiresAt)
	date("nbf", c.NotBefore)
	date("iat", c.IssuedAt)
	str("jti", c.RegisteredClaims.ID, true)
	if !ok {
		return nil, false
	}
	b = append(b, `,"ttl":`...)
	b = strconv.AppendInt(b, int64(c.TTL.Seconds()), 10)
	b = append(b, '}')
	return b, true
}

// plainJSON reports whether json.Marshal writes s as it is, in quotes:
// printable ASCII without '"', '\\' or the characters it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < ' ' || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
