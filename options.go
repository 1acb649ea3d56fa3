package rjwt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/dial"
	"github.com/rjwt/rjwt/internal/jws"
)

// MinSecretSize is the shortest HMAC key WithSecret accepts: 32 bytes, the
// size of an HS256 digest (RFC 7518 §3.2).
const MinSecretSize = jws.MinSecretSize

// Option configures a Client. Options that receive bad values make New fail;
// none panics and none falls back to a silent default.
type Option func(*config) error

type config struct {
	signing        *key
	verifying      []*key
	addr           string
	password       string
	db             int
	maxRetries     int
	rdb            redis.UniversalClient
	replicaAck     int           // WithReplicaAck
	ackTimeout     time.Duration // WithReplicaAck
	multiple       bool
	keyspaceEvents bool
	defaultTTL     time.Duration
	prefix         string
	timeout        time.Duration
	ops            opsConfig // logging, hooks, URL: logging.go
	eventBuffer    int
	healthInterval time.Duration
	maxSessions    int
	limitPolicy    LimitPolicy // limits.go
	maxData        int
	refreshGrace   time.Duration
	leeway         time.Duration
	issuer         string
	audience       []string
	idle           time.Duration
	seenEvery      time.Duration    // tests only (export_test.go); 0: a minute
	hostClock      func() time.Time // tests only (export_test.go): this host's wall clock; nil: time.Now
	cacheEntries   int
	cacheWindow    time.Duration
	autoPipeline   bool
	layout         Layout // layout.go
	layoutSet      bool   // WithLayout was given
}

// DefaultLeeway is the clock skew Verify tolerates unless WithLeeway says
// otherwise: 5 seconds.
const DefaultLeeway = 5 * time.Second

func defaultConfig() config {
	return config{
		addr:       "127.0.0.1:6379",
		maxRetries: 10,
		defaultTTL: time.Hour,
		prefix:     "rjwt:",
		timeout:    5 * time.Second,

		eventBuffer:    256,
		healthInterval: time.Second,
		maxSessions:    DefaultMaxSessions,
		maxData:        DefaultMaxSessionData,
		refreshGrace:   DefaultRefreshGrace,
		leeway:         DefaultLeeway,
		cacheWindow:    DefaultCacheWindow,
		autoPipeline:   true,
	}
}

// WithSecret sets the HMAC key that signs and verifies tokens (HS256), with
// no kid: it is WithSigningKey("", secret). A client needs it or another key
// (WithSigningKey, WithVerificationKey): there is no default. It must be at
// least MinSecretSize (32) bytes. The slice is copied.
func WithSecret(secret []byte) Option {
	return func(c *config) error {
		if c.signing != nil {
			return errors.New("rjwt: WithSecret: a client has one signing key, and one is already set")
		}
		k, err := jws.HMACKey("", secret)
		if err != nil {
			return fmt.Errorf("rjwt: WithSecret: %w", err)
		}
		c.signing = k
		return nil
	}
}

// WithLeeway sets the clock skew tolerated when checking a token's times: a
// token still verifies up to d after its exp, and up to d before its nbf or
// iat (a token signed by a server whose clock runs ahead). The default is
// DefaultLeeway, 5 seconds; 0 tolerates none. A negative d makes New fail.
//
// The leeway only widens the token's own window: the session in Redis still
// expires with the TTL, so a token past exp verifies within the leeway only
// while its session lives.
func WithLeeway(d time.Duration) Option {
	return checked(d >= 0, "rjwt: WithLeeway: negative leeway %v", d, func(c *config) { c.leeway = d })
}

// WithAddr sets the Redis address: "host:port", or the path of a unix socket
// (anything starting with "/"). The default is "127.0.0.1:6379". Anything
// else, a URL included, makes New fail at once (for a URL, use WithURL).
// Ignored with WithRedisClient.
func WithAddr(addr string) Option {
	return func(c *config) error {
		if err := dial.CheckAddr(addr); err != nil {
			return err
		}
		if c.ops.url != nil {
			return errors.New("rjwt: WithAddr: WithURL was given too; give one of them")
		}
		c.addr, c.ops.addrSet = addr, true
		return nil
	}
}

// WithPassword sets the Redis password (redis-jwt's auth). The default is none.
// Ignored with WithRedisClient.
func WithPassword(p string) Option {
	return func(c *config) error { c.password = p; return nil }
}

// WithDB selects the Redis database (redis-jwt's db). The default is 0.
// Ignored with WithRedisClient.
func WithDB(n int) Option {
	return checked(n >= 0, "rjwt: WithDB: negative database %d", n, func(c *config) { c.db = n })
}

// WithMaxRetries sets how often rjwt sends a call to Redis again (redis-jwt's
// maxretries). The default is 10; 0 or -1 disables retries. Only what is
// safe is retried: a call whose connection broke (EOF, reset: typically a
// pooled connection that died with a restarted Redis) or that Redis answered
// with "try again" (LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, READONLY).
// Every rjwt operation is safe to run twice, so a retry never doubles an
// effect. Timeouts are not retried, a refused dial is not retried (Redis is
// down: the call fails fast, see ErrUnavailable), and retries never outlast
// the call's deadline (WithTimeout). Ignored with WithRedisClient, whose
// client retries as configured (go-redis's default is 3).
func WithMaxRetries(n int) Option {
	return checked(n >= -1, "rjwt: WithMaxRetries: %d is below -1", n, func(c *config) { c.maxRetries = n })
}

// WithRedisClient makes rjwt use the given client (single node, Sentinel
// failover or Cluster) instead of building one. rjwt does not close it.
// WithAddr, WithPassword, WithDB and WithMaxRetries are then ignored.
func WithRedisClient(rdb redis.UniversalClient) Option {
	return func(c *config) error {
		if rdb == nil {
			return errors.New("rjwt: WithRedisClient: nil client")
		}
		c.rdb = rdb
		return nil
	}
}

// WithMultiple chooses between one session per user (false, the default:
// Sign revokes the user's other sessions in the same atomic step that creates
// the new one) and many sessions per user (true).
func WithMultiple(b bool) Option {
	return func(c *config) error { c.multiple = b; return nil }
}

// WithKeyspaceEvents turns on Redis keyspace notifications for rjwt's keys
// (redis-jwt's kea) so that Events reports sessions that expire or are
// revoked. The default is false. Those reports name sessions of the classic
// layout only (Redis notifies a hash field's expiry or deletion with the key
// alone): with it LayoutAuto keeps the classic layout, and a client that
// also asks for WithLayout(LayoutLean) gets the lifecycle events but no
// session_expired or session_revoked for lean sessions.
func WithKeyspaceEvents(b bool) Option {
	return func(c *config) error { c.keyspaceEvents = b; return nil }
}

// WithDefaultTTL sets the TTL Sign uses when it is given no WithTTL, in the
// grammar of ParseTTL. The default is "1 hour". A TTL that does not parse makes
// New fail with ErrInvalidTTL.
func WithDefaultTTL(ttl string) Option {
	return func(c *config) error {
		d, err := ParseTTL(ttl)
		if err != nil {
			return fmt.Errorf("rjwt: WithDefaultTTL: %w", err)
		}
		c.defaultTTL = d
		return nil
	}
}

// WithPrefix sets the prefix of every Redis key rjwt writes. The default is
// "rjwt:". It may be empty, but may not contain '{' or '}': rjwt puts each
// user's keys under a Redis Cluster hash tag of its own.
func WithPrefix(p string) Option {
	return func(c *config) error {
		if strings.ContainsAny(p, "{}") {
			return fmt.Errorf("rjwt: WithPrefix: %q contains a brace, which would break the per-user hash tag", p)
		}
		c.prefix = p
		return nil
	}
}

// WithTimeout bounds every call that touches Redis when its context has no
// deadline of its own. The default is 5 seconds; 0 leaves such calls unbounded
// (go-redis's own socket timeouts still apply). A client rjwt builds also
// dials with a 1-second timeout. Once Redis is known to be down, calls do not
// wait at all: they fail at once with ErrUnavailable.
func WithTimeout(d time.Duration) Option {
	return checked(d >= 0, "rjwt: WithTimeout: negative timeout %v", d, func(c *config) { c.timeout = d })
}

// WithEventBuffer sets how many events the Events channel holds before new
// ones are dropped (and counted by DroppedEvents). The default is 256.
func WithEventBuffer(n int) Option {
	return checked(n >= 1, "rjwt: WithEventBuffer: %d is not a positive size", n, func(c *config) { c.eventBuffer = n })
}

// WithHealthCheck sets how often rjwt's one topology watcher walks Redis's
// masters, to report EventConnected and EventDisconnected, to fail calls
// fast while Redis is down and, on a Cluster, to learn the masters and their
// slots. The default is 1 second (with WithLocalCache, at
// most 1 second). Each walk is one round trip per master: PING on a single
// node or Sentinel's master; CLUSTER MYID and CLUSTER SLOTS in one pipeline
// on each master of a Cluster.
//
// An outage is noticed within one interval plus the walk's timeout (the
// interval, clamped to 200ms..2s): at most 2 seconds by default, 300ms at
// 100ms; a call that finds Redis unreachable has it walked at once. With keyspace events on, a subscription connection that drops
// reports it at once (about 1ms after a redis-server dies). A client given
// with WithRedisClient and without ContextTimeoutEnabled may take up to its
// ReadTimeout to notice a server that hangs rather than closes connections.
// Recovery is reported within about one interval of Redis answering again
// (EventConnected), and EventReady follows once the subscriptions are back.
func WithHealthCheck(interval time.Duration) Option {
	return checked(interval >= 10*time.Millisecond, "rjwt: WithHealthCheck: %v is under 10ms", interval, func(c *config) { c.healthInterval = interval })
}

// DefaultMaxSessions is WithMaxSessions' default.
const DefaultMaxSessions = 1000

// DefaultMaxSessionData is WithMaxSessionData's default: 64 KiB.
const DefaultMaxSessionData = 64 << 10

// WithMaxSessions caps how many live sessions one user holds in multiple
// mode. At the cap, Sign ends the user's sessions nearest to their expiry to
// make room (a new login always succeeds; the stalest device is logged
// out). The default is 1,000, which keeps RevokeAll, Sessions and a switch
// to single mode at a few milliseconds of Redis time per user; 0 removes
// the cap (then those calls cost Redis time in proportion to the sessions).
func WithMaxSessions(n int) Option {
	return checked(n >= 0, "rjwt: WithMaxSessions: negative cap %d", n, func(c *config) { c.maxSessions = n })
}

// WithMaxSessionData caps the private data of one session (WithDataSession,
// SetSessionData), in bytes of JSON. Larger data is refused with ErrTooLarge
// before Redis is touched. The default is 64 KiB (DefaultMaxSessionData);
// Redis holds the data in memory and sends it with every Verify WithSession.
func WithMaxSessionData(n int) Option {
	return checked(n >= 1, "rjwt: WithMaxSessionData: %d is not a positive size", n, func(c *config) { c.maxData = n })
}

// DefaultRefreshGrace is WithRefreshGrace's default.
const DefaultRefreshGrace = 5 * time.Second

// WithRefreshGrace sets how long after a rotation the refresh token it
// replaced still works: presented again within d, it gets the very pair the
// rotation made (the same strings), atomically, instead of being taken for a
// stolen token. Two tabs that refresh at once, and a client that retries
// after a lost reply, carry on; a token older than the last rotation, or the
// replaced one after d, still revokes the session (ErrRefreshReused).
//
// The default is 5 seconds (DefaultRefreshGrace), in the range the anchors
// use (supabase's reuse interval is 10 s; ory hydra's grace period is
// configurable, off by default). 0 keeps strict rotation. A thief who
// replays a token within d gets the pair the owner got, not a new one, and
// the next rotation by either revokes the other's copy as reuse.
func WithRefreshGrace(d time.Duration) Option {
	return checked(d >= 0, "rjwt: WithRefreshGrace: negative grace %v", d, func(c *config) { c.refreshGrace = d })
}

// WithIssuer sets the issuer ("iss") of the tokens the client signs, and
// makes Verify and Refresh refuse, with ErrInvalidToken, tokens with another
// issuer or none. The default is none: tokens carry no "iss" and any issuer
// is accepted. Services that share a key but must not accept each other's
// tokens give each its own issuer (or audience).
func WithIssuer(iss string) Option {
	return func(c *config) error {
		c.issuer = iss
		return nil
	}
}

// WithAudience sets the audience ("aud", RFC 7519 §4.1.3) of the tokens the
// client signs, and makes Verify and Refresh refuse, with ErrInvalidToken,
// a token whose audience names none of aud. The default is none: tokens
// carry no "aud" and Verify does not look at it. Empty strings are refused.
func WithAudience(aud ...string) Option {
	return func(c *config) error {
		for _, a := range aud {
			if a == "" {
				return errors.New("rjwt: WithAudience: an empty audience")
			}
		}
		c.audience = append([]string(nil), aud...)
		return nil
	}
}

// WithIdleTimeout ends a session that goes unused for ttl (in the grammar of
// ParseTTL), even while its tokens' exp is far away: scs's IdleTimeout
// beside its Lifetime. The default is none: a session lives as long as its
// tokens.
//
// Sessions signed by this client store the window; their key in Redis
// expires after it (an actual expiry, which keyspace events and a local
// cache's invalidation see). A Verify that reaches Redis extends the session
// when less than half the window is left, in the same round trip and the
// same script as the check (so a session in use costs Redis a write at
// most once per half window), and never past the session's absolute end:
// its refresh token's expiry, else its token's. Refresh is a use too. The
// window a session was signed with is the one that applies to it, whichever
// client verifies it: a service that only verifies needs no option. Sessions
// signed before, or by a client without it, have no idle timeout. A window
// as long as the tokens' TTL or longer changes nothing.
//
// Where Redis refuses Verify's writes (a read-only replica; out of memory on
// a Redis that cannot read script flags, Redis 6), Verify still answers,
// from a read-only script, but does not extend: sessions in use may then
// end when idle.
func WithIdleTimeout(ttl string) Option {
	return func(c *config) error {
		d, err := ParseTTL(ttl)
		if err != nil {
			return fmt.Errorf("rjwt: WithIdleTimeout: %w", err)
		}
		c.idle = d
		return nil
	}
}

// WithAutoPipeline makes concurrent calls share Redis round trips (true, the
// default) or not (false). With it, Verify, Sessions and Sign calls made at
// the same time go to Redis in one pipeline (at most two pipelines in
// flight; the calls that arrive meanwhile make the next): one write and one
// read of the socket for a batch instead of one round trip each, which is
// what lets throughput grow with requests in flight. A lone call still goes
// at once. Each call is still bounded by its own context
// (a call that gives up leaves its command to run; all are read-only or safe
// to run twice), still fails fast while Redis is known down, and is still
// retried by rjwt as WithMaxRetries says. On a Redis Cluster client calls
// are not shared: go-redis ends a Cluster pipeline only when every node's
// part is done, so one dead master would hold calls for every slot.
func WithAutoPipeline(b bool) Option {
	return func(c *config) error { c.autoPipeline = b; return nil }
}

// checked is an option that applies set when ok, and otherwise makes New
// fail with the error format says of v.
func checked(ok bool, format string, v any, set func(*config)) Option {
	return func(c *config) error {
		if !ok {
			return fmt.Errorf(format, v)
		}
		set(c)
		return nil
	}
}
