// Command demo is rjwt's demo: a walkthrough printed to the terminal (sign,
// verify, single-mode revocation, revoke), then an HTTP server: a small web
// app at GET / for browsers, which keeps its tokens in HttpOnly cookies
// (rjwthttp's cookie mode), and a JSON API following koa-jwt-redis-session's
// action flow for curl.
//
//	go run ./examples/demo                 # walkthrough, then serve on 127.0.0.1:3333
//	go run ./examples/demo -walkthrough    # walkthrough only
//	go run ./examples/demo -redis 127.0.0.1:6380   # or -redis / REDIS_URL=redis://... or rediss://...
//
// It runs on an embedded in-process Redis (miniredis) whose data ends with
// the demo, and touches a real Redis only when -redis or REDIS_URL names one
// (host:port, or a redis://, rediss:// or unix:// URL). There, it keeps its
// accounts under demo:account:<name> (without expiry) and its sessions under
// demo: and demo-walkthrough:.
//
// The routes are in usage below (go run ./examples/demo -h).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

const usage = `usage: demo [-addr host:port] [-redis host:port|URL] [-access-ttl TTL] [-introspect-secret S] [-walkthrough]

Prints a walkthrough of rjwt, then serves on -addr a web page at / (open it
in a browser: it logs in with HttpOnly cookies) and a JSON API:

  POST /register      {"account": "...", "password": "..."}  200 with a token pair; 409 taken; 400 bad input
  POST /authorize     the same                               200 with a token pair; 401 wrong credentials; 400 bad input
  POST /refreshToken  {"refreshToken": "..."}                200 with a new pair; 401 when refused
  GET  /me            Authorization: Bearer <token>          200 with the claims and a per-session view counter
  GET  /sessions      Authorization: Bearer <token>          200 with your live sessions (the device list)
  POST /revokeSession {"session": "..."} + Bearer <token>    204: that session of yours ends; 404 if it is not yours
  POST /logout        Authorization: Bearer <token>          204: this session ends
  POST /logoutAll     Authorization: Bearer <token>          200 {"revoked": n}: all your sessions end
  POST /oauth/introspect  token=<token> + Bearer <secret>    RFC 7662 (with -introspect-secret or RJWT_INTROSPECT_SECRET)
  POST /oauth/revoke      token=<token> + Bearer <secret>    RFC 7009: 200, and the token's session ends

Browsers get the token pair as HttpOnly cookies instead of in the body, and
the refresh route reads its cookie when the body names no token; their
unsafe requests from other origins are refused (403). curl is unaffected.
Passwords are 8 to 72 bytes (bcrypt's limit), at login as at register.
Redis: an embedded one (miniredis) unless -redis or REDIS_URL names a real one.
The secret: RJWT_SECRET (32+ bytes), else a random one for this run.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Fatal(err)
	}
}

// run is the demo: it returns when ctx ends (after a graceful shutdown), or
// after the walkthrough with -walkthrough.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:3333", "HTTP listen address")
	redisFlag := fs.String("redis", "", "a real Redis: host:port, or a redis://, rediss:// or unix:// URL (default $REDIS_URL, else an embedded Redis)")
	walkOnly := fs.Bool("walkthrough", false, "print the walkthrough and exit")
	accessTTL := fs.String("access-ttl", "15 minutes", "the access tokens' TTL (try \"10 seconds\" to see the page refresh)")
	prefix := fs.String("prefix", "", "key prefix of the demo's sessions (default $RJWT_PREFIX, else \"demo:\")")
	introspect := fs.String("introspect-secret", getenv("RJWT_INTROSPECT_SECRET"), "serve /oauth/introspect and /oauth/revoke to callers presenting this secret (Bearer, or Basic's password); default $RJWT_INTROSPECT_SECRET, empty: not served")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	target := *redisFlag
	if target == "" {
		target = getenv("REDIS_URL")
	}
	rdb, closeRedis, err := connect(target, out)
	if err != nil {
		return err
	}
	defer closeRedis()

	secret := []byte(getenv("RJWT_SECRET"))
	if len(secret) == 0 {
		secret = []byte(rand.Text() + rand.Text()) // 52 random characters
		fmt.Fprintln(out, "secret: a random one for this run (set RJWT_SECRET, 32+ bytes, to keep tokens valid across restarts)")
	}

	if err := walkthrough(ctx, out, rdb, secret); err != nil {
		return err
	}
	if *walkOnly {
		return nil
	}

	// The refresh grace lets two tabs of the page refresh the same cookie
	// at once: both get the same new pair instead of ending the session.
	if *prefix == "" {
		*prefix = getenv("RJWT_PREFIX")
	}
	if *prefix == "" {
		*prefix = "demo:"
	}
	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix(*prefix),
		rjwt.WithRefreshGrace(10*time.Second))
	if err != nil {
		return err
	}
	defer client.Close()
	handler, err := newServerTTL(client, rdb, *accessTTL)
	if err != nil {
		return err
	}
	handler = withEndpoints(handler, client, *introspect) // endpoints.go
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nserving on http://%s — try:\n%s\n", ln.Addr(), curlSession("http://"+ln.Addr().String()))
	srv := newHTTPServer(handler, defaultTimeouts)
	shutdown := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdown <- srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-shutdown
}

// timeouts bound each connection, so slow or idle clients cannot hold the
// server's connections (and goroutines) forever.
type timeouts struct {
	header time.Duration // to read a request's headers
	read   time.Duration // to read a whole request, body included
	write  time.Duration // from the end of the headers to the end of the response
	idle   time.Duration // a keep-alive connection waiting for its next request
}

// defaultTimeouts: bodies here are at most 16 KiB and answers are quick (a
// bcrypt hash, a Redis round trip or two), so seconds are plenty.
var defaultTimeouts = timeouts{header: 5 * time.Second, read: 10 * time.Second, write: 15 * time.Second, idle: 60 * time.Second}

func newHTTPServer(h http.Handler, t timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.header,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    64 << 10,
	}
}

// connect opens the Redis target names (host:port or a URL), checking that it
// answers; with no target it starts an embedded miniredis and touches no
// other Redis. It says which on out, without the URL's password.
func connect(target string, out io.Writer) (redis.UniversalClient, func(), error) {
	if target == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(out, "redis: an embedded in-process Redis (miniredis at %s); its data ends with the demo. -redis or REDIS_URL names a real one\n", mr.Addr())
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		return rdb, func() { rdb.Close(); mr.Close() }, nil
	}
	opt, err := redisOptions(target)
	if err != nil {
		return nil, nil, err
	}
	where := describe(opt)
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("redis at %s: %w", where, err)
	}
	fmt.Fprintf(out, "redis: %s\n", where)
	return rdb, func() { rdb.Close() }, nil
}

// redisOptions reads host:port, or a redis://, rediss:// (TLS) or unix://
// URL with its user, password, database and query options (redis.ParseURL).
func redisOptions(target string) (*redis.Options, error) {
	if strings.Contains(target, "://") {
		opt, err := redis.ParseURL(target)
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // a url.Error quotes the URL, password and all
		}
		if err != nil {
			return nil, fmt.Errorf("redis: the -redis or REDIS_URL URL: %w (want redis://[user:password@]host[:port][/db], rediss://... or unix://...)", err)
		}
		return opt, nil
	}
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("redis: %q is neither host:port nor a redis://, rediss:// or unix:// URL", target)
	}
	return &redis.Options{Addr: target}, nil
}

// describe names a Redis for humans: address, database, TLS; never secrets.
func describe(opt *redis.Options) string {
	s := opt.Addr
	if opt.DB != 0 {
		s += fmt.Sprintf(" db %d", opt.DB)
	}
	if opt.TLSConfig != nil {
		s += " (TLS)"
	}
	return s
}

// walkthrough shows the core in five steps.
func walkthrough(ctx context.Context, out io.Writer, rdb redis.UniversalClient, secret []byte) error {
	r, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithPrefix("demo-walkthrough:"))
	if err != nil {
		return err
	}
	defer r.Close()
	step := func(n int, format string, args ...any) {
		fmt.Fprintf(out, "%d. "+format+"\n", append([]any{n}, args...)...)
	}
	fmt.Fprintln(out, "\nwalkthrough (single mode: one session per user)")

	first, err := r.Sign(ctx, "alice", rjwt.WithTTL("15 minutes"),
		rjwt.WithDataToken(map[string]string{"role": "admin"}), rjwt.WithDataSession(map[string]string{"plan": "pro"}))
	if err != nil {
		return err
	}
	step(1, "sign alice, 15 minutes: %s...%s (%d bytes)", first[:16], first[len(first)-8:], len(first))

	claims, err := r.Verify(ctx, first, rjwt.WithSession())
	if err != nil {
		return err
	}
	step(2, "verify: id=%s session=%s ttl=%v public=%s private=%s", claims.ID, claims.Session, claims.TTL, claims.DataToken, claims.DataSession)

	second, err := r.Sign(ctx, "alice")
	if err != nil {
		return err
	}
	_, err = r.Verify(ctx, first)
	step(3, "sign alice again: the first token now fails: %v (ErrSessionNotFound: %t)", err, errors.Is(err, rjwt.ErrSessionNotFound))

	c2, err := r.Verify(ctx, second)
	if err != nil {
		return err
	}
	if err := r.Revoke(ctx, c2.Session); err != nil {
		return err
	}
	_, err = r.Verify(ctx, second)
	step(4, "revoke %s: its token fails: %v", c2.Session, err)

	_, err = r.Verify(ctx, second[:len(second)-2]+"xx")
	step(5, "a tampered token: %v (ErrInvalidToken: %t)", err, errors.Is(err, rjwt.ErrInvalidToken))
	return nil
}

// accounts keeps demo accounts in Redis: one key per account holding the
// bcrypt hash of its password. The account name is the user id.
type accounts struct {
	rdb redis.UniversalClient
	// timeout bounds each Redis call, so a Redis that hangs (paused, a
	// network that drops packets) costs a login at most this long, not
	// go-redis's retries of its read timeout.
	timeout time.Duration
}

// accountTimeout is accounts' timeout in the demo.
const accountTimeout = 2 * time.Second

func accountKey(name string) string { return "demo:account:" + name }

// maxPassword is bcrypt's limit: it reads only the first 72 bytes of a
// password, so a longer one would log in with any password sharing them.
const maxPassword = 72

var errPasswordLength = fmt.Errorf("%w: passwords are 8 to %d bytes", rjwthttp.ErrBadInput, maxPassword)

func (a accounts) Register(ctx context.Context, c rjwthttp.Credentials) (string, error) {
	if len(c.Account) > 64 || strings.ContainsAny(c.Account, "\r\n") {
		return "", fmt.Errorf("%w: account names are 1 to 64 characters on one line", rjwthttp.ErrBadInput)
	}
	if len(c.Password) < 8 || len(c.Password) > maxPassword {
		return "", errPasswordLength
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	created, err := bounded(ctx, a.timeout, func(ctx context.Context) (bool, error) {
		return a.rdb.SetNX(ctx, accountKey(c.Account), hash, 0).Result()
	})
	if err != nil {
		// After a timeout the SETNX may still land: a retry then gets 409.
		return "", fmt.Errorf("%w: %w", rjwthttp.ErrUnavailable, err)
	}
	if !created {
		return "", rjwthttp.ErrAccountExists
	}
	return c.Account, nil
}

func (a accounts) Authenticate(ctx context.Context, c rjwthttp.Credentials) (string, error) {
	if len(c.Password) > maxPassword {
		// Register's rule, before any lookup: it says nothing of the account.
		return "", errPasswordLength
	}
	hash, err := bounded(ctx, a.timeout, func(ctx context.Context) ([]byte, error) {
		return a.rdb.Get(ctx, accountKey(c.Account)).Bytes()
	})
	if errors.Is(err, redis.Nil) {
		// Spend the same time as a wrong password, so accounts cannot be probed.
		bcrypt.CompareHashAndPassword(dummyHash, []byte(c.Password))
		return "", rjwthttp.ErrInvalidCredentials
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", rjwthttp.ErrUnavailable, err)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(c.Password)) != nil {
		return "", rjwthttp.ErrInvalidCredentials
	}
	return c.Account, nil
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password of anyone's"), bcrypt.DefaultCost)

// newServer wires the routes of usage, with 15-minute access tokens.
func newServer(client *rjwt.Client, rdb redis.UniversalClient) (http.Handler, error) {
	return newServerTTL(client, rdb, "15 minutes")
}

// newServerTTL wires the routes of usage, with access tokens of accessTTL.
// Cookie mode serves the page; clients that send no browser headers get
// the JSON API unchanged.
func newServerTTL(client *rjwt.Client, rdb redis.UniversalClient, accessTTL string) (http.Handler, error) {
	cookies := rjwthttp.WithCookies(rjwthttp.Cookies{RefreshPath: "/refreshToken"})
	h, err := rjwthttp.NewHandlers(client, accounts{rdb: rdb, timeout: accountTimeout}, cookies,
		rjwthttp.WithSignOptions(rjwt.WithTTL(accessTTL), rjwt.WithRefreshTTL("30 days")))
	if err != nil {
		return nil, err
	}
	auth := rjwthttp.Middleware(client, rjwthttp.WithSessionData(), cookies)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", servePage)
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("GET /me", auth(http.HandlerFunc(me)))
	mux.Handle("GET /sessions", auth(http.HandlerFunc(h.Sessions)))
	mux.Handle("POST /revokeSession", auth(http.HandlerFunc(h.RevokeSession)))
	mux.Handle("POST /logout", auth(http.HandlerFunc(h.Logout)))
	mux.Handle("POST /logoutAll", auth(http.HandlerFunc(h.LogoutAll)))
	return mux, nil
}

// me answers the claims and a per-session view counter kept in the session's
// private data. The counter is incremented in Redis (Session.Incr), so
// concurrent requests each count: a Get then Set would lose counts.
func me(w http.ResponseWriter, r *http.Request) {
	claims, _ := rjwthttp.FromContext(r.Context())
	s, _ := rjwthttp.SessionFromContext(r.Context())
	views, err := s.Incr(r.Context(), "views", 1)
	if err != nil {
		rjwthttp.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"claims": claims, "views": views})
}

// curlSession is a shell session to paste: register, authorize, /me twice,
// the device list, refresh, logout, and /me refused. It keeps the tokens in shell variables
// with sed, so it needs nothing beyond curl.
func curlSession(base string) string {
	return strings.ReplaceAll(`  B=BASE
  curl -s -X POST $B/register -d '{"account":"alice","password":"correct horse"}'
  PAIR=$(curl -s -X POST $B/authorize -d '{"account":"alice","password":"correct horse"}'); echo "$PAIR"
  TOKEN=$(echo "$PAIR" | sed -E 's/.*"token":"([^"]*)".*/\1/'); REFRESH=$(echo "$PAIR" | sed -E 's/.*"refreshToken":"([^"]*)".*/\1/')
  curl -s $B/me -H "Authorization: Bearer $TOKEN"
  curl -s $B/me -H "Authorization: Bearer $TOKEN"
  curl -s $B/sessions -H "Authorization: Bearer $TOKEN"
  PAIR=$(curl -s -X POST $B/refreshToken -d '{"refreshToken":"'$REFRESH'"}'); echo "$PAIR"
  TOKEN=$(echo "$PAIR" | sed -E 's/.*"token":"([^"]*)".*/\1/')
  curl -s -X POST $B/logout -H "Authorization: Bearer $TOKEN" -w '%{http_code}\n'
  curl -s $B/me -H "Authorization: Bearer $TOKEN"`, "BASE", base)
}
