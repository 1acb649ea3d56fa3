// Command demo is rjwt's demo: a walkthrough printed to the terminal (sign,
// verify, single-mode revocation, revoke), then a JSON HTTP server following
// koa-jwt-redis-session's action flow.
//
//	go run ./examples/demo                 # walkthrough, then serve on 127.0.0.1:3333
//	go run ./examples/demo -walkthrough    # walkthrough only
//	go run ./examples/demo -redis 127.0.0.1:6380   # or REDIS_URL=redis://...
//
// With no -redis and no REDIS_URL it uses the Redis on 127.0.0.1:6379, and
// when nothing answers there, an embedded in-process Redis (miniredis).
//
// Routes: POST /register, POST /authorize, POST /refreshToken (JSON bodies),
// GET /me and POST /logout (Authorization: Bearer <token>).
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
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3333", "HTTP listen address")
	redisFlag := flag.String("redis", "", "Redis address (host:port) or URL (redis://...); default $REDIS_URL, then 127.0.0.1:6379, then an embedded Redis")
	walkOnly := flag.Bool("walkthrough", false, "print the walkthrough and exit")
	flag.Parse()

	rdb, closeRedis, err := connect(*redisFlag, os.Getenv("REDIS_URL"), "127.0.0.1:6379", os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	defer closeRedis()

	secret := []byte(os.Getenv("RJWT_SECRET"))
	if len(secret) == 0 {
		secret = []byte(rand.Text() + rand.Text()) // 52 random characters
		fmt.Println("secret: a random one for this run (set RJWT_SECRET, 32+ bytes, to keep tokens valid across restarts)")
	}

	if err := walkthrough(context.Background(), os.Stdout, rdb, secret); err != nil {
		log.Fatal(err)
	}
	if *walkOnly {
		return
	}

	client, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithRedisClient(rdb), rjwt.WithMultiple(true), rjwt.WithPrefix("demo:"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	handler, err := newServer(client, rdb)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\nserving on http://%s — try:\n%s\n", ln.Addr(), curlSession("http://"+ln.Addr().String()))
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// connect picks the Redis: the flag, else REDIS_URL, else local (the usual
// 127.0.0.1:6379) if it answers, else an embedded miniredis. It says which on
// out.
func connect(flagAddr, envURL, local string, out io.Writer) (redis.UniversalClient, func(), error) {
	target := flagAddr
	if target == "" {
		target = envURL
	}
	if target != "" {
		opt, err := redisOptions(target)
		if err != nil {
			return nil, nil, err
		}
		rdb := redis.NewClient(opt)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, nil, fmt.Errorf("redis at %s: %w", target, err)
		}
		fmt.Fprintf(out, "redis: %s\n", opt.Addr)
		return rdb, func() { rdb.Close() }, nil
	}
	rdb := redis.NewClient(&redis.Options{Addr: local, MaxRetries: -1, DialerRetries: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		rdb.Close()
		rdb = redis.NewClient(&redis.Options{Addr: local})
		fmt.Fprintf(out, "redis: %s\n", local)
		return rdb, func() { rdb.Close() }, nil
	}
	rdb.Close()
	mr, err := miniredis.Run()
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "redis: nothing answers on %s, so this runs on an embedded in-process Redis (miniredis at %s); its data ends with the demo\n", local, mr.Addr())
	rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return rdb, func() { rdb.Close(); mr.Close() }, nil
}

func redisOptions(target string) (*redis.Options, error) {
	if strings.Contains(target, "://") {
		return redis.ParseURL(target)
	}
	return &redis.Options{Addr: target}, nil
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
type accounts struct{ rdb redis.UniversalClient }

func accountKey(name string) string { return "demo:account:" + name }

func (a accounts) Register(ctx context.Context, c rjwthttp.Credentials) (string, error) {
	if len(c.Account) > 64 || strings.ContainsAny(c.Account, "\r\n") {
		return "", fmt.Errorf("%w: account names are 1 to 64 characters on one line", rjwthttp.ErrBadInput)
	}
	if len(c.Password) < 8 || len(c.Password) > 72 {
		return "", fmt.Errorf("%w: passwords are 8 to 72 bytes", rjwthttp.ErrBadInput)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	created, err := a.rdb.SetNX(ctx, accountKey(c.Account), hash, 0).Result()
	if err != nil {
		return "", fmt.Errorf("%w: %w", rjwthttp.ErrUnavailable, err)
	}
	if !created {
		return "", rjwthttp.ErrAccountExists
	}
	return c.Account, nil
}

func (a accounts) Authenticate(ctx context.Context, c rjwthttp.Credentials) (string, error) {
	hash, err := a.rdb.Get(ctx, accountKey(c.Account)).Bytes()
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

// newServer wires the routes of the API contract's demo server.
func newServer(client *rjwt.Client, rdb redis.UniversalClient) (http.Handler, error) {
	h, err := rjwthttp.NewHandlers(client, accounts{rdb},
		rjwthttp.WithSignOptions(rjwt.WithTTL("15 minutes"), rjwt.WithRefreshTTL("30 days")))
	if err != nil {
		return nil, err
	}
	auth := rjwthttp.Middleware(client, rjwthttp.WithSessionData())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.HandleFunc("POST /refreshToken", h.RefreshToken)
	mux.Handle("POST /logout", auth(http.HandlerFunc(h.Logout)))
	mux.Handle("GET /me", auth(http.HandlerFunc(me)))
	return mux, nil
}

// me answers the claims and a per-session view counter kept in the session's
// private data.
func me(w http.ResponseWriter, r *http.Request) {
	claims, _ := rjwthttp.FromContext(r.Context())
	s, _ := rjwthttp.SessionFromContext(r.Context())
	var views int
	if _, err := s.Get("views", &views); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	views++
	if err := s.Set("views", views); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"claims": claims, "views": views})
}

// curlSession is a shell session to paste: register, authorize, /me twice,
// refresh, logout, and /me refused. It keeps the tokens in shell variables
// with sed, so it needs nothing beyond curl.
func curlSession(base string) string {
	return strings.ReplaceAll(`  B=BASE
  curl -s -X POST $B/register -d '{"account":"alice","password":"correct horse"}'
  PAIR=$(curl -s -X POST $B/authorize -d '{"account":"alice","password":"correct horse"}'); echo "$PAIR"
  TOKEN=$(echo "$PAIR" | sed -E 's/.*"token":"([^"]*)".*/\1/'); REFRESH=$(echo "$PAIR" | sed -E 's/.*"refreshToken":"([^"]*)".*/\1/')
  curl -s $B/me -H "Authorization: Bearer $TOKEN"
  curl -s $B/me -H "Authorization: Bearer $TOKEN"
  PAIR=$(curl -s -X POST $B/refreshToken -d '{"refreshToken":"'$REFRESH'"}'); echo "$PAIR"
  TOKEN=$(echo "$PAIR" | sed -E 's/.*"token":"([^"]*)".*/\1/')
  curl -s -X POST $B/logout -H "Authorization: Bearer $TOKEN" -w '%{http_code}\n'
  curl -s $B/me -H "Authorization: Bearer $TOKEN"`, "BASE", base)
}
