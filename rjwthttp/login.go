package rjwthttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"

	"github.com/rjwt/rjwt"
)

// CredentialsDecoder reads the credentials of a login or register request.
// The handlers call it with r.Body already limited to WithMaxBody; its
// errors should wrap ErrBadInput (400), or be a *http.MaxBytesError (413).
// The default is CredentialFields("account", "password").
type CredentialsDecoder func(r *http.Request) (Credentials, error)

// WithCredentials sets how login and register read the credentials, e.g.
// CredentialFields("email", "password"). A nil d keeps the default.
func WithCredentials(d CredentialsDecoder) HandlerOption {
	return handlersOption(func(h *Handlers) {
		if d != nil {
			h.creds = d
		}
	})
}

// CredentialFields reads the credentials from a JSON object with exactly
// these two fields, or from a form post (application/x-www-form-urlencoded
// or multipart/form-data, as an HTML form sends) with these two fields
// among others, whichever the request's Content-Type says; JSON when it
// says neither, or when a form's body is a JSON object (curl -d sends JSON
// as a form). CredentialFields("email", "password") reads
// {"email": "...", "password": "..."}. A JSON field other than the two, or
// one that is not a string, is 400 (ErrBadInput).
func CredentialFields(account, password string) CredentialsDecoder {
	return func(r *http.Request) (Credentials, error) {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		body := r.Body
		switch ct {
		case "multipart/form-data":
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				return Credentials{}, formError(err)
			}
			return Credentials{Account: r.PostFormValue(account), Password: r.PostFormValue(password)}, nil
		case "application/x-www-form-urlencoded":
			raw, err := io.ReadAll(r.Body)
			if err != nil {
				return Credentials{}, formError(err)
			}
			if b := bytes.TrimSpace(raw); len(b) == 0 || b[0] != '{' {
				form, err := url.ParseQuery(string(raw))
				if err != nil {
					return Credentials{}, formError(err)
				}
				return Credentials{Account: form.Get(account), Password: form.Get(password)}, nil
			}
			body = io.NopCloser(bytes.NewReader(raw)) // JSON sent as a form, as curl -d does
		}
		var fields map[string]json.RawMessage
		if err := decodeJSON(body, &fields); err != nil {
			return Credentials{}, err
		}
		var c Credentials
		for name, raw := range fields {
			var dst *string
			switch name {
			case account:
				dst = &c.Account
			case password:
				dst = &c.Password
			default:
				return Credentials{}, fmt.Errorf("%w: unknown field %q (want %q and %q)", ErrBadInput, name, account, password)
			}
			if err := json.Unmarshal(raw, dst); err != nil {
				return Credentials{}, fmt.Errorf("%w: field %q must be a string", ErrBadInput, name)
			}
		}
		return c, nil
	}
}

func formError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fmt.Errorf("%w: %w", ErrBadInput, tooBig)
	}
	return fmt.Errorf("%w: malformed form", ErrBadInput)
}

// errEmptyBody is decodeJSON's error for an empty body.
var errEmptyBody = errors.New("empty body: expected a JSON object")

// decodeJSON reads one JSON value from body into v. Its errors wrap
// ErrBadInput, and also *http.MaxBytesError (413) for a body over the
// limit; they describe the problem without naming Go packages. An empty
// body is errEmptyBody, wrapped.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		return fmt.Errorf("%w: extra data after the JSON object", ErrBadInput)
	}
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return fmt.Errorf("%w: %w", ErrBadInput, tooBig)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %w", ErrBadInput, errEmptyBody)
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: malformed JSON", ErrBadInput)
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Errorf("%w: field %q must be a %s", ErrBadInput, typeErr.Field, jsonKind(typeErr.Type))
	case errors.As(err, &typeErr):
		return fmt.Errorf("%w: expected a JSON object", ErrBadInput)
	}
	// encoding/json reports an unknown field only as text: `json: unknown
	// field "x"`. Keep the part after its package name.
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "json: " {
		msg = msg[6:]
	}
	return fmt.Errorf("%w: %s", ErrBadInput, msg)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "number"
}

// AccountSignOptions is an optional interface of Accounts, found by type
// assertion: when the Accounts value given to NewHandlers implements it,
// login and register ask it for the signed-in user's own sign options and
// add them after WithSignOptions' (so they win), e.g. a role in the token's
// data (rjwt.WithDataToken), data for the session (rjwt.WithDataSession),
// or device details (rjwt.WithMeta, which replaces WithDeviceMeta's). id is
// the id Authenticate or Register returned. Its error answers the request
// as an Accounts error does; an option rjwt refuses is a 500, logged.
type AccountSignOptions interface {
	SignOptions(ctx context.Context, id string, r *http.Request) ([]rjwt.SignOption, error)
}

// checkSignOptions refuses what every login would fail on (a TTL that does
// not parse, a WithDataToken that cannot be marshalled) when the handlers
// are built, without a call on the client.
func checkSignOptions(opts []rjwt.SignOption) error {
	if err := rjwt.CheckSignOptions(opts...); err != nil {
		return fmt.Errorf("rjwthttp: WithSignOptions: %w", err)
	}
	return nil
}
