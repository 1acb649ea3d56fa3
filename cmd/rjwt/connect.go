package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/internal/store"
)

// redisOptions turns the target (-redis, -redis-file or $REDIS_URL) into
// go-redis options: a redis://, rediss:// (TLS) or unix:// URL through
// redis.ParseURL, a path starting with "/" as a unix socket, anything else
// as host:port. Its errors name where the value came from and never print
// its password.
func redisOptions(t target) (*redis.Options, error) {
	var opt *redis.Options
	switch v := t.value; {
	case strings.Contains(v, "://"):
		var err error
		if opt, err = redis.ParseURL(v); err != nil {
			msg := strings.ReplaceAll(err.Error(), v, redactURL(v))
			return nil, usagef("%s: %s", t.source, msg)
		}
	case strings.HasPrefix(v, "/"):
		opt = &redis.Options{Network: "unix", Addr: v}
	default:
		if _, _, err := net.SplitHostPort(v); err != nil {
			return nil, usagef("%s %q: want a redis:// URL or host:port", t.source, redactURL(v))
		}
		opt = &redis.Options{Addr: v}
	}
	// An operator at a terminal wants a dead server reported quickly:
	// go-redis's defaults retry each command 3 times with 5 dials each. A
	// URL's own max_retries / dialer_retries are kept.
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	opt.ContextTimeoutEnabled = true
	return opt, nil
}

// redisClient is a go-redis client for the target.
func (c *cli) redisClient() (*redis.Client, error) {
	t, err := c.redisTarget()
	if err != nil {
		return nil, err
	}
	ropt, err := redisOptions(t)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(ropt), nil
}

// conn is one command's rjwt client and the Redis client under it.
type conn struct {
	client *rjwt.Client
	rdb    *redis.Client
}

// Close closes the Redis client first: rjwt's Close waits for its health
// check, whose PING on a server that hangs ends only at its own deadline
// (go-redis honours a context's deadline, not its cancellation); closing the
// connections ends it at once.
func (cn *conn) Close() {
	cn.rdb.Close()
	cn.client.Close()
}

// connect makes the rjwt client for one command. key is the signing key, or
// nil for commands that sign and verify nothing: rjwt.New requires a key, so
// they get a random throwaway one that never leaves this process. opts are
// added (WithKeyspaceEvents for watch).
func (c *cli) connect(key []byte, opts ...rjwt.Option) (*conn, error) {
	rdb, err := c.redisClient()
	if err != nil {
		return nil, err
	}
	if key == nil {
		key = make([]byte, rjwt.MinSecretSize)
		rand.Read(key)
	}
	all := append([]rjwt.Option{
		rjwt.WithRedisClient(rdb),
		rjwt.WithSecret(key),
		rjwt.WithPrefix(c.prefix),
		rjwt.WithTimeout(c.timeout),
	}, opts...)
	client, err := rjwt.New(all...)
	if err != nil {
		rdb.Close()
		return nil, usageError{err.Error()}
	}
	return &conn{client, rdb}, nil
}

// loadKey returns the signing key from -secret-file (which wins) or
// $RJWT_SECRET, or nil when neither is set. A trailing newline (as editors
// and echo leave) is trimmed from the file; nothing else is.
func (c *cli) loadKey() ([]byte, error) {
	if c.secretFile != "" {
		b, err := os.ReadFile(c.secretFile)
		if err != nil {
			return nil, usagef("-secret-file: %v", err)
		}
		b = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
		if len(b) == 0 {
			return nil, usagef("-secret-file %s is empty", c.secretFile)
		}
		return b, nil
	}
	if s := c.getenv("RJWT_SECRET"); s != "" {
		return []byte(s), nil
	}
	return nil, nil
}

// exitCode chooses the exit status for a failed command.
func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case isUnavailable(err):
		return exitUnavailable
	}
	return exitFailed
}

// isUnavailable tells "Redis could not be reached or did not answer in time"
// from every other failure, by the core's one classifier (store.Transient:
// ErrUnavailable, network errors, timeouts, dropped connections, Redis's
// "not now" replies), plus what only a command line meets before any call:
// a TLS handshake that failed.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, rjwt.ErrUnavailable) || store.Transient(err) {
		return true
	}
	var recErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	return errors.As(err, &recErr) || errors.As(err, &certErr) || errors.As(err, &authErr) || errors.As(err, &hostErr)
}

// printJSON writes v as one line of JSON.
func (c *cli) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	_, err = c.stdout.Write(append(b, '\n'))
	return err
}
