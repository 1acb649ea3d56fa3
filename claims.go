package rjwt

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rjwt/rjwt/internal/jsonfast"
)

// ErrNoData is returned by DecodeDataToken and DecodeDataSession when there
// is no data to decode.
var ErrNoData = errors.New("rjwt: no data")

// Claims are the claims of an rjwt token, as Verify returns them.
//
// In the token they are JSON: "id", "rjwt" (the session), "dataToken" when
// given, "ttl" in whole seconds, and the registered claims "sub" (the user
// id again, so golang-jwt's GetSubject works), "jti" (the token's own id:
// no two tokens share one, RFC 7519 §4.1.7), "iat", "exp", and "iss" and
// "aud" when the client has WithIssuer or WithAudience. The session is
// named by "rjwt", never by "jti". DataSession is never in the token:
// Verify fills it from Redis when asked WithSession.
type Claims struct {
	// ID is the user id given to Sign, exactly.
	ID string `json:"id"`
	// Session names the session in Redis: "id:nanoid". Pass it to Revoke.
	Session string `json:"rjwt"`
	// DataToken is the public data given to Sign WithDataToken, as JSON; nil
	// when none. Anyone holding the token can read it.
	DataToken json.RawMessage `json:"dataToken,omitempty"`
	// DataSession is the private data given to Sign WithDataSession, as JSON,
	// read from Redis by Verify WithSession; nil otherwise.
	DataSession json.RawMessage `json:"-"`
	// TTL is the lifetime the token was signed with (JSON "ttl", whole seconds).
	TTL time.Duration `json:"-"`
	// Type is "" for access tokens and "refresh" for refresh tokens (JSON
	// "typ"). Verify accepts only access tokens, Refresh only refresh tokens.
	Type string `json:"typ,omitempty"`
	// RefreshID identifies one refresh token of the session (JSON "rti"); it
	// changes with every rotation. Empty in access tokens.
	RefreshID string `json:"rti,omitempty"`
	// AuthTime is when the user authenticated (JSON "auth_time", OpenID
	// Connect): WithAuthTime, else the Sign's time. Kept across Refresh and
	// Reissue; RequireAuthWithin judges it.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	// AMR names how the user authenticated (JSON "amr", RFC 8176 values such
	// as "pwd", "otp", "mfa"): WithAMR. Kept across Refresh and Reissue.
	AMR []string `json:"amr,omitempty"`
	jwt.RegisteredClaims
	// Confirmation is the key a DPoP-bound session's tokens are bound to
	// (JSON "cnf": {"jkt": ...}, RFC 9449 §6.1); nil for bearer tokens.
	// See BindProof.
	Confirmation *Confirmation `json:"cnf,omitempty"`
}

// claimsAlias has Claims' fields without its methods, so the JSON methods
// below can use encoding/json on it without recursing.
type claimsAlias Claims

type claimsWire struct {
	*claimsAlias
	TTL int64 `json:"ttl"`
}

// MarshalJSON encodes the claims as they stand in a token, TTL in seconds.
func (c Claims) MarshalJSON() ([]byte, error) {
	return json.Marshal(claimsWire{claimsAlias: (*claimsAlias)(&c), TTL: int64(c.TTL / time.Second)})
}

// claimsIn is what UnmarshalJSON decodes: the claims flat, with the dates
// as json.Number (as golang-jwt reads them: a number, or a string holding one;
// "" when absent or null). Decoding straight into jwt.NumericDate costs a nested
// json.Unmarshal per date; this is the one hot-path JSON pass of Verify.
type claimsIn struct {
	ID        string           `json:"id"`
	Session   string           `json:"rjwt"`
	DataToken json.RawMessage  `json:"dataToken"`
	TTL       int64            `json:"ttl"`
	Type      string           `json:"typ"`
	RefreshID string           `json:"rti"`
	AuthTime  json.Number      `json:"auth_time"`
	AMR       []string         `json:"amr"`
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt json.Number      `json:"exp"`
	NotBefore json.Number      `json:"nbf"`
	IssuedAt  json.Number      `json:"iat"`
	JTI       string           `json:"jti"`
	Cnf       *Confirmation    `json:"cnf"`
}

// UnmarshalJSON decodes claims as they stand in a token. Dates are read as
// golang-jwt's NumericDate reads them: a JSON number of seconds, fractions
// kept to jwt.TimePrecision.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var w claimsIn
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	exp, err := numericDate(w.ExpiresAt)
	if err != nil {
		return err
	}
	nbf, err := numericDate(w.NotBefore)
	if err != nil {
		return err
	}
	iat, err := numericDate(w.IssuedAt)
	if err != nil {
		return err
	}
	authTime, err := numericDate(w.AuthTime)
	if err != nil {
		return err
	}
	*c = Claims{
		ID: w.ID, Session: w.Session, DataToken: w.DataToken, TTL: time.Duration(w.TTL) * time.Second,
		Type: w.Type, RefreshID: w.RefreshID, AuthTime: authTime, AMR: w.AMR,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: w.Issuer, Subject: w.Subject, Audience: w.Audience, ID: w.JTI,
			ExpiresAt: exp, NotBefore: nbf, IssuedAt: iat,
		},
		Confirmation: w.Cnf,
	}
	return nil
}

// numericDate is jwt.NumericDate's UnmarshalJSON and newNumericDateFromSeconds.
func numericDate(n json.Number) (*jwt.NumericDate, error) {
	return jsonfast.NumericDate(n, nil)
}

// DecodeDataToken unmarshals the token's public data into v.
func (c *Claims) DecodeDataToken(v any) error {
	if len(c.DataToken) == 0 {
		return ErrNoData
	}
	return json.Unmarshal(c.DataToken, v)
}

// DecodeDataSession unmarshals the session's private data into v. It has data
// only after Verify WithSession.
func (c *Claims) DecodeDataSession(v any) error {
	if len(c.DataSession) == 0 {
		return ErrNoData
	}
	return json.Unmarshal(c.DataSession, v)
}
