package rjwt

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/rjwt/rjwt/internal/store"
)

// MaxIDLength is the longest user id rjwt accepts: 512 bytes as the token
// encodes it. Tokens carry the id in JSON twice ("id" and "rjwt"), where
// '"', '\\' and control characters take 2 to 6 bytes and '<', '>', '&',
// U+2028 and U+2029 take 6, so an id of 512 plain bytes is fine and one of
// 512 '<' is not (it would need 3 KiB). Any id within the limit leaves a
// token more than 6 KiB for WithDataToken before MaxTokenSize.
const MaxIDLength = store.MaxIDLength

// nanoidLen is the length of the session part of a session name.
const nanoidLen = store.NanoidLen

// sessionName is the public name of a session: "id:nanoid".
func sessionName(id, nano string) string { return id + ":" + nano }

func validNanoid(s string) bool { return store.ValidNanoid(s) }

// sessionNano is the nanoid of the session named in claims that passed
// parse: the last nanoidLen bytes of Claims.Session. (Before every token had
// its own jti, the jti was this nanoid; tokens of that time still verify.)
func sessionNano(claims *Claims) string { return claims.Session[len(claims.Session)-nanoidLen:] }

// isSessionOf reports whether claims.Session is "ID:nanoid", without building
// it. The id is compared exactly: ids may hold ':' themselves.
func isSessionOf(claims *Claims) bool {
	s, id := claims.Session, claims.ID
	return len(s) == len(id)+1+nanoidLen && s[:len(id)] == id && s[len(id)] == ':' && validNanoid(s[len(id)+1:])
}

// pairJTI is the jti of the access ("access") or refresh ("refresh") token
// of the pair whose refresh id is refreshID: 21 base64url characters of a
// SHA-256 of both (126 bits). Refresh ids are random, one per pair, so every
// token has its own jti; and a pair built again for the same rotation (a
// retry, or the refresh grace) gets the same jtis, so the same strings. The
// access token's jti does not reveal the refresh id.
func pairJTI(refreshID, kind string) string {
	sum := sha256.Sum256([]byte("rjwt jti\x00" + kind + "\x00" + refreshID))
	return base64.RawURLEncoding.EncodeToString(sum[:16])[:nanoidLen]
}
