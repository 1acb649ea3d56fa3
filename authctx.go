package rjwt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rjwt/rjwt/internal/store"
)

// The authentication context (auth_time, amr, step-up) and the lifecycle
// sentinels (Reissue and RevokeOthers: lifecycle.go).

// Lifecycle sentinels; distinct from every other sentinel.
var (
	// ErrStepUpRequired: Verify RequireAuthWithin found the token's
	// auth_time older than the duration (or absent). The error is a
	// *StepUpError with the duration. rjwthttp answers 401 with
	// `WWW-Authenticate: Bearer error="insufficient_user_authentication"`
	// (RFC 9470).
	ErrStepUpRequired = errors.New("rjwt: step-up authentication required")
	// ErrTooManySessions: a multiple-mode Sign with WithLimitPolicy
	// (LimitRefuse) found the user at WithMaxSessions' cap; nothing was
	// written. rjwthttp answers 409.
	ErrTooManySessions = errors.New("rjwt: too many sessions")
	// ErrLoginSuperseded: a single-mode Sign found a login of the same user
	// issued after it already holding the session (a double-clicked login
	// button, two tabs): the newer login won and this one wrote nothing. The
	// user is logged in, by the other login. Not an ErrSessionNotFound:
	// rjwthttp answers 409, never 401.
	ErrLoginSuperseded = errors.New("rjwt: a newer login of the user won")
	// ErrInvalidAuthContext: WithAuthTime with a zero or future time, or
	// WithAMR with a method that is empty, longer than MaxAMRLength or not
	// [A-Za-z0-9_-], or more than MaxAMRMethods methods.
	ErrInvalidAuthContext = errors.New("rjwt: invalid authentication context")
)

// MaxAMRMethods and MaxAMRLength bound WithAMR: at most 8 methods of at
// most 32 bytes each (RFC 8176's values are 2 to 5).
const (
	MaxAMRMethods = 8
	MaxAMRLength  = 32
)

// authContext is what WithAuthTime and WithAMR set.
type authContext struct {
	time   time.Time
	amr    []string
	amrSet bool
}

// WithAuthTime records when the user authenticated (claim "auth_time"):
// for a Sign after a remembered login, or to carry an identity provider's
// auth_time. Without it auth_time is the Sign's time (Redis's clock). It
// survives Refresh and Reissue. A zero time, or one after the Sign's time
// plus the leeway, is ErrInvalidAuthContext.
func WithAuthTime(t time.Time) SignOption {
	return func(o *signOptions) error {
		if t.IsZero() {
			return fmt.Errorf("%w: WithAuthTime with a zero time", ErrInvalidAuthContext)
		}
		o.auth.time = t
		return nil
	}
}

// WithAMR records how the user authenticated (claim "amr", RFC 8176 values:
// "pwd", "otp", "hwk", "swk", "mfa", "face"...). It survives Refresh and
// Reissue (where WithAMR() with no methods clears it). Each method is 1 to
// MaxAMRLength bytes of [A-Za-z0-9_-], at most MaxAMRMethods of them, else
// ErrInvalidAuthContext.
func WithAMR(methods ...string) SignOption {
	return func(o *signOptions) error {
		if len(methods) > MaxAMRMethods {
			return fmt.Errorf("%w: %d amr methods, over MaxAMRMethods (%d)", ErrInvalidAuthContext, len(methods), MaxAMRMethods)
		}
		for _, m := range methods {
			if !validAMR(m) {
				return fmt.Errorf("%w: amr method %q is not 1-%d bytes of [A-Za-z0-9_-]", ErrInvalidAuthContext, m, MaxAMRLength)
			}
		}
		o.auth.amr = append([]string(nil), methods...)
		o.auth.amrSet = true
		return nil
	}
}

func validAMR(m string) bool {
	if m == "" || len(m) > MaxAMRLength {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// stampAuth puts the authentication context and the limit policy into a
// Sign: the claims' auth_time (o's, else now) and amr, and the session's
// record of them (kept for Reissue; auth_time only when given, since
// without it it is the issue time the session already keeps).
func (c *Client) stampAuth(claims *Claims, args *store.SignArgs, a authContext, now time.Time) error {
	args.Policy = int(c.limitPolicy)
	at := *claims.IssuedAt // a copy: the claims' dates are not shared
	claims.AuthTime = &at
	if !a.time.IsZero() {
		if a.time.After(now.Add(c.leeway)) {
			return fmt.Errorf("%w: WithAuthTime %v is after the Sign's time %v", ErrInvalidAuthContext, a.time, now)
		}
		claims.AuthTime = jwt.NewNumericDate(a.time)
		args.AuthTime = claims.AuthTime.Unix()
	}
	if len(a.amr) > 0 {
		claims.AMR = a.amr
		args.AMR = strings.Join(a.amr, " ")
	}
	return nil
}

// signErr is the error of a refused Sign.
func signErr(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrSuperseded):
		return fmt.Errorf("%w: a login of %q issued after this one already holds the session (single mode); the user is logged in by it", ErrLoginSuperseded, id)
	case errors.Is(err, store.ErrTooMany):
		return fmt.Errorf("%w: user %q already holds WithMaxSessions' cap of live sessions (LimitRefuse)", ErrTooManySessions, id)
	}
	return err
}

// StepUpError is the error of Verify RequireAuthWithin: errors.Is(err,
// ErrStepUpRequired). MaxAge is the duration asked for (RFC 9470's
// max_age); AuthAge how old the authentication was, -1 when the token has
// no auth_time.
type StepUpError struct {
	MaxAge, AuthAge time.Duration
}

func (e *StepUpError) Error() string {
	if e.AuthAge < 0 {
		return fmt.Sprintf("%v: the token has no auth_time (RequireAuthWithin %v)", ErrStepUpRequired, e.MaxAge)
	}
	return fmt.Sprintf("%v: the user authenticated %v ago, over %v (RequireAuthWithin)", ErrStepUpRequired, e.AuthAge.Round(time.Second), e.MaxAge)
}

// Unwrap makes errors.Is(err, ErrStepUpRequired) hold.
func (e *StepUpError) Unwrap() error { return ErrStepUpRequired }

// RequireAuthWithin makes Verify answer ErrStepUpRequired (a *StepUpError)
// unless the token's auth_time is within d of now, by the clock tokens are
// judged by (Redis's), with the client's leeway; a token without auth_time
// is refused too. It is checked after the session is found live, so a
// revoked session still answers ErrSessionNotFound.
func RequireAuthWithin(d time.Duration) VerifyOption {
	return func(o *verifyOptions) { o.authWithin = d }
}

// checkAuthAge is RequireAuthWithin's check (d 0: none).
func (c *Client) checkAuthAge(claims *Claims, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if claims.AuthTime == nil {
		return &StepUpError{MaxAge: d, AuthAge: -1}
	}
	age := c.now().Sub(claims.AuthTime.Time)
	if age > d+c.leeway {
		return &StepUpError{MaxAge: d, AuthAge: age}
	}
	return nil
}
