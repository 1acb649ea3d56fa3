// Package jsonfast reads and writes the JSON of rjwt's claims in one pass
// without reflection, for the exact shapes rjwt's own tokens have; its
// callers fall back to encoding/json for anything else.
package jsonfast

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// A Decoder reads one JSON text. Strings are substrings of the input (no
// copy): the input must never change afterwards.
// NewDecoder reads raw; dates, when not nil, is where Date(i) writes
// date i (so a caller can allocate them with its claims).
func NewDecoder(raw []byte, dates *[3]jwt.NumericDate) *Decoder {
	return &Decoder{b: raw, s: unsafe.String(unsafe.SliceData(raw), len(raw)), dates: dates}
}

// Object reads a whole input that is one flat object, calling field with
// each key, once the reader stands at its value; field reads the value and
// reports false to give up. It reports false for anything else, a key
// that is not in bits or comes twice included.
func (d *Decoder) Object(bits map[string]uint16, field func(key string) bool) bool {
	var seen uint16
	d.Space()
	if !d.Byte('{') {
		return false
	}
	d.Space()
	if d.Peek() == '}' {
		d.i++
	} else {
		for {
			key, ok := d.Str()
			if !ok {
				return false
			}
			d.Space()
			if !d.Byte(':') {
				return false
			}
			d.Space()
			bit, ok := bits[key]
			if !ok || seen&bit != 0 || !field(key) {
				return false
			}
			seen |= bit
			d.Space()
			if d.Byte('}') {
				break
			}
			if !d.Byte(',') {
				return false
			}
			d.Space()
		}
	}
	d.Space()
	return d.i == len(d.b)
}

// Strs reads a non-empty array of strings, as []string does (anything
// else, an empty array included, is refused).
func (d *Decoder) Strs() ([]string, bool) {
	if d.Peek() != '[' {
		return nil, false
	}
	out, ok := d.Aud()
	return []string(out), ok
}

type Decoder struct {
	b     []byte
	s     string // b as a string, for substrings without copies
	i     int
	dates *[3]jwt.NumericDate // exp, nbf, iat; nil: allocate each
}

func (d *Decoder) Peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *Decoder) Byte(c byte) bool {
	if d.Peek() == c {
		d.i++
		return true
	}
	return false
}

func (d *Decoder) Space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// Str reads a string without escapes or control characters, in valid UTF-8.
func (d *Decoder) Str() (string, bool) {
	if !d.Byte('"') {
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
func (d *Decoder) digits() (string, bool) {
	start := d.i
	d.Byte('-')
	first := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == first || (d.b[first] == '0' && d.i-first > 1) {
		return "", false
	}
	switch d.Peek() {
	case '.', 'e', 'E':
		return "", false
	}
	return d.s[start:d.i], true
}

func (d *Decoder) Int() (int64, bool) {
	s, ok := d.digits()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Date reads an integer date as numericDate does, into d.dates[i] when
// the caller gave storage (i < 0: always allocated).
func (d *Decoder) Date(i int) (*jwt.NumericDate, bool) {
	s, ok := d.digits()
	if !ok {
		return nil, false
	}
	var dst *jwt.NumericDate
	if d.dates != nil && i >= 0 {
		dst = &d.dates[i]
	}
	date, err := NumericDate(json.Number(s), dst)
	return date, err == nil && date != nil
}

// Aud reads a string, or a non-empty array of strings, as
// jwt.ClaimStrings does.
func (d *Decoder) Aud() (jwt.ClaimStrings, bool) {
	if d.Peek() == '"' {
		s, ok := d.Str()
		return jwt.ClaimStrings{s}, ok
	}
	if !d.Byte('[') {
		return nil, false
	}
	var out jwt.ClaimStrings
	for {
		d.Space()
		s, ok := d.Str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		d.Space()
		if d.Byte(']') {
			return out, true
		}
		if !d.Byte(',') {
			return nil, false
		}
	}
}

// Raw reads any JSON value but null, as a slice of the input.
func (d *Decoder) Raw() (json.RawMessage, bool) {
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

func (d *Decoder) end(start int) (json.RawMessage, bool) {
	v := d.b[start:d.i]
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t' || v[len(v)-1] == '\n' || v[len(v)-1] == '\r') {
		v = v[:len(v)-1]
	}
	if len(v) == 0 || v[0] == 'n' || !json.Valid(v) {
		return nil, false
	}
	return json.RawMessage(v[:len(v):len(v)]), true
}

// PlainJSON reports whether json.Marshal writes s as it is, in quotes:
// printable ASCII without '"', '\\' or the characters it escapes for HTML.
func PlainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < ' ' || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// NumericDate is jwt.NumericDate's UnmarshalJSON and
// newNumericDateFromSeconds, writing into dst (allocated when nil) as
// jwt.NewNumericDate would make it; nil for "".
func NumericDate(n json.Number, dst *jwt.NumericDate) (*jwt.NumericDate, error) {
	if n == "" {
		return nil, nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil, fmt.Errorf("could not convert json number value to float: %w", err)
	}
	round, frac := math.Modf(f)
	t := time.Unix(int64(round), int64(frac*1e9))
	if dst == nil {
		return jwt.NewNumericDate(t), nil
	}
	dst.Time = t.Truncate(jwt.TimePrecision)
	return dst, nil
}

// A Writer appends the members of a JSON object as json.Marshal writes
// them, while OK: a value it cannot write as json.Marshal would (one that
// needs escaping or compacting) makes OK false and the rest no-ops.
type Writer struct {
	B  []byte
	OK bool
}

func (w *Writer) name(name string) {
	w.B = append(w.B, ',', '"')
	w.B = append(w.B, name...)
	w.B = append(w.B, '"', ':')
}

// Str writes ,"name":"v" (nothing for an empty v with omitEmpty).
func (w *Writer) Str(name, v string, omitEmpty bool) {
	if !w.OK || (omitEmpty && v == "") {
		return
	}
	if !PlainJSON(v) {
		w.OK = false
		return
	}
	w.name(name)
	w.B = append(w.B, '"')
	w.B = append(w.B, v...)
	w.B = append(w.B, '"')
}

// Int writes ,"name":n.
func (w *Writer) Int(name string, n int64) {
	if w.OK {
		w.name(name)
		w.B = strconv.AppendInt(w.B, n, 10)
	}
}

// Date writes ,"name":seconds (nothing for a nil d).
func (w *Writer) Date(name string, d *jwt.NumericDate) {
	if d != nil {
		w.Int(name, d.Truncate(time.Second).Unix())
	}
}

// Strs writes ,"name":[...] as json.Marshal writes a []string (nothing
// for an empty v).
func (w *Writer) Strs(name string, v []string) {
	if !w.OK || len(v) == 0 {
		return
	}
	w.name(name)
	w.B = append(w.B, '[')
	for i, s := range v {
		if !PlainJSON(s) {
			w.OK = false
			return
		}
		if i > 0 {
			w.B = append(w.B, ',')
		}
		w.B = append(w.B, '"')
		w.B = append(w.B, s...)
		w.B = append(w.B, '"')
	}
	w.B = append(w.B, ']')
}

// Raw writes ,"name":v for JSON v that json.Marshal writes as it is
// (nothing for an empty v).
func (w *Writer) Raw(name string, v []byte) {
	if !w.OK || len(v) == 0 {
		return
	}
	for _, x := range v {
		if x <= ' ' || x >= 0x7f || x == '<' || x == '>' || x == '&' {
			w.OK = false // json.Marshal would compact or escape it
			return
		}
	}
	if !json.Valid(v) {
		w.OK = false
		return
	}
	w.name(name)
	w.B = append(w.B, v...)
}

// Len is the length of s inside a JSON string as encoding/json writes it
// (HTML-safe escaping), without the quotes. s is valid UTF-8.
func Len(s string) int {
	n := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\' || b == '\n' || b == '\r' || b == '\t' || b == '\b' || b == '\f':
				n += 2
			case b < 0x20 || b == '<' || b == '>' || b == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}
