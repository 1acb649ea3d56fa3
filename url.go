package rjwt

import (
	"errors"
	"fmt"

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
