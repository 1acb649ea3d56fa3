package dpop

import (
	"errors"
	"net/url"
	"strings"
)

// NormalURL is the form in which a proof's htu and the request's URL are
// compared (RFC 9449 §4.3 check 9, with RFC 3986 §6.2.2 syntax-based and
// §6.2.3 scheme-based normalisation): the scheme and host in lower case,
// the port dropped when it is the scheme's default (80, 443), an empty path
// as "/", percent-encodings in upper case and decoded where they encode an
// unreserved character, dot segments removed, and any query and fragment
// left off (the RFC compares without them, on either side). Only absolute
// http and https URLs without user information are accepted.
func NormalURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", errors.New("not an absolute http or https URL")
	case u.Opaque != "" || u.Host == "":
		return "", errors.New("a URL without a host")
	case u.User != nil:
		return "", errors.New("a URL with user information")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	path := removeDots(normalEscapes(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// normalEscapes upper-cases each %XX of an escaped path and decodes those
// of unreserved characters (RFC 3986 §6.2.2.1-2).
func normalEscapes(p string) string {
	if strings.IndexByte(p, '%') < 0 {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) {
			b.WriteByte(p[i])
			continue
		}
		hi, lo := unhex(p[i+1]), unhex(p[i+2])
		if hi < 0 || lo < 0 {
			b.WriteByte(p[i])
			continue
		}
		if c := byte(hi<<4 | lo); unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(p[i+1 : i+3]))
		}
		i += 2
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDots is RFC 3986 §5.2.4's remove_dot_segments for an absolute path.
func removeDots(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	if len(out) == 0 || out[0] != "" {
		out = append([]string{""}, out...)
	}
	return strings.Join(out, "/")
}
