// Package dial builds the go-redis client options of a Redis client rjwt
// makes itself (not one given WithRedisClient).
package dial

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/logroute"
)

// Options are the options of a client of addr (a unix socket when it
// starts with "/"), with what url (WithURL's, parsed; nil for none) says
// beyond the address, password and database, whose dial failures go-redis
// logs to log (internal/logroute).
func Options(addr, password string, db int, url *redis.Options, log *slog.Logger) *redis.Options {
	o := &redis.Options{
		Addr:     addr,
		Password: password,
		DB:       db,
		// rjwt retries itself, only what is safe and only while Redis
		// is not known down (internal/store); go-redis's own retries
		// would stall every call of an outage behind their backoff.
		MaxRetries:    -1,
		DialTimeout:   time.Second,
		DialerRetries: 1, // a refused dial is an answer: Redis is down

		ContextTimeoutEnabled: true,
	}
	if strings.HasPrefix(addr, "/") {
		o.Network = "unix"
	}
	applyURL(o, url)
	o.Dialer = logroute.Dialer(o, log)
	return o
}

// CheckAddr is WithAddr's check: a unix socket path, or host:port. A URL is
// refused with a pointer to WithURL.
func CheckAddr(addr string) error {
	switch {
	case addr == "":
		return errors.New("rjwt: WithAddr: empty address")
	case strings.Contains(addr, "://"):
		return fmt.Errorf("rjwt: WithAddr: %q is a URL; use WithURL, or give host:port", addr)
	case strings.HasPrefix(addr, "/"):
		return nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("rjwt: WithAddr: %q is not host:port (e.g. 127.0.0.1:6379) nor a unix socket path (starting with /)", addr)
	}
	return nil
}

// applyURL copies to o what URL u says beyond the address, password and
// database (which Options takes from its arguments).
func applyURL(o, u *redis.Options) {
	if u == nil {
		return
	}
	o.Username = u.Username
	o.TLSConfig = u.TLSConfig
	o.Protocol = u.Protocol
	o.ClientName = u.ClientName
	if u.DialTimeout != 0 {
		o.DialTimeout = u.DialTimeout
	}
	o.ReadTimeout, o.WriteTimeout = u.ReadTimeout, u.WriteTimeout
	o.PoolFIFO, o.PoolSize, o.PoolTimeout = u.PoolFIFO, u.PoolSize, u.PoolTimeout
	o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = u.MinIdleConns, u.MaxIdleConns, u.MaxActiveConns
	o.ConnMaxIdleTime, o.ConnMaxLifetime = u.ConnMaxIdleTime, u.ConnMaxLifetime
}
