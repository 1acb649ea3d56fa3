package rjwt

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// WithURL sets the Redis server from a URL, as go-redis's ParseURL reads
// it: "redis://[user:password@]host[:port][/db]", "rediss://..." for TLS
// (the server's certificate is checked against the host name), or
// "unix://[user:password@]/path/to/socket[?db=n]"; query parameters such
// as dial_timeout, read_timeout or pool_size are honoured, and max_retries
// sets WithMaxRetries. rjwt keeps its own retry and fail-fast rules (see
// WithMaxRetries), and dials with a 1-second timeout unless the URL sets
// dial_timeout. A URL that does not parse makes New fail.
//
// It cannot be combined with WithAddr (New fails); WithPassword and WithDB
// given after it replace the URL's. Ignored with WithRedisClient.
func WithURL(url string) Option {
	return func(c *config) error {
		o, err := redis.ParseURL(url)
		if err != nil {
			return fmt.Errorf("rjwt: WithURL: %w", err)
		}
		if c.ops.addrSet {
			return errors.New("rjwt: WithURL: WithAddr was given too; give one of them")
		}
		c.ops.url = o
		c.addr, c.password, c.db = o.Addr, o.Password, o.DB
		if o.MaxRetries != 0 {
			c.maxRetries = max(o.MaxRetries, -1)
		}
		return nil
	}
}

// checkAddr is WithAddr's check: a unix socket path, or host:port. A URL is
// refused with a pointer to WithURL.
func checkAddr(addr string) error {
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

// applyURL copies to o what WithURL's URL says beyond the address,
// password and database (which New takes from the configuration).
func (oc *opsConfig) applyURL(o *redis.Options) {
	u := oc.url
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
