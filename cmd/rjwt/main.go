// Command rjwt is the operator's tool for rjwt sessions in Redis: list a
// user's sessions, revoke one or all of them, inspect a token, watch session
// events live, and check a Redis for the settings rjwt needs.
//
//	go run ./cmd/rjwt -redis redis://127.0.0.1:6379/0 sessions alice
//
// It reads Redis through the rjwt client (github.com/rjwt/rjwt) wherever the
// public API offers what it needs; the one place that knows the key layout is
// layout.go, used by stats.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1 // not found, invalid, or any other failure
	exitUsage       = 2
	exitUnavailable = 3 // Redis could not be reached or did not answer in time
)

const usageText = `rjwt: manage and inspect rjwt sessions in Redis.

Usage:
  rjwt [flags] sessions USER     USER's live sessions: session, expires, TTL left
  rjwt [flags] revoke SESSION    end one session ("user:nanoid", Claims.Session)
  rjwt [flags] revoke-all USER   end every session of USER and say how many
  rjwt [flags] inspect TOKEN     decode a token's header and claims, check it with
                                 the key, and show its session in Redis
                                 (TOKEN "-" reads the token from stdin)
  rjwt [flags] watch             print session and connection events, one a line,
                                 until interrupted (Ctrl-C); adds the keyspace
                                 notification classes rjwt needs and restores the
                                 previous notify-keyspace-events on exit
  rjwt [flags] stats             count sessions and users under the prefix and
                                 check Redis settings; walks the whole database
                                 with SCAN: O(keyspace), never KEYS
  rjwt version                   the command's version
  rjwt help [COMMAND]            this text, or one command's (also: COMMAND -h)

` + flagsText + `
The signing key (the bytes given to rjwt.WithSecret) comes from $RJWT_SECRET
or -secret-file (the file wins), never from a flag value: flags show in ps and
in shell history. Only inspect uses it; without one, inspect still decodes the
token and shows its session, and says the signature was not checked. (Refresh
tokens are not checked either: Verify takes access tokens only.) For the same
reason a password belongs in $REDIS_URL or a -redis-file, not in -redis.

Exit status: 0 ok; 1 not found or invalid (unknown session, a token that is
not valid) or another failure; 2 usage; 3 Redis unavailable. For inspect, 0
means valid; when the signature was not checked, it means only that the token
is unexpired and its session live.
`

// flagsText lists the flags every command takes.
const flagsText = `Flags (before or after the command):
  -redis URL          redis://[user:password@]host:port[/db], rediss://... for TLS,
                      unix:///path, or a bare host:port
                      (default $REDIS_URL, else 127.0.0.1:6379)
  -redis-file PATH    file holding the Redis URL (keeps a password out of ps)
  -prefix P           the key prefix of the application's rjwt client
                      (default $RJWT_PREFIX, else "rjwt:")
  -json               JSON output: one object (watch: one object per line)
  -timeout D          bound on each Redis round trip (default 5s)
  -secret-file PATH   file holding the signing key, trailing newline trimmed
  -keep-config        watch: keep the notify-keyspace-events it set after exit
  -no-config          watch: never change the server's configuration, only listen
`

// cli is one invocation: its flags and where it reads and writes.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	redis      string
	redisFile  string
	prefix     string
	json       bool
	timeout    time.Duration
	secretFile string
	keepConfig bool
	noConfig   bool

	fileTarget string // the URL read from -redis-file, for redaction
}

// usageError is a mistake on the command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// commands maps each subcommand to its handler and the number of arguments
// it takes.
var commands = map[string]struct {
	nargs int
	run   func(ctx context.Context, c *cli, args []string) error
}{
	"sessions":   {1, runSessions},
	"revoke":     {1, runRevoke},
	"revoke-all": {1, runRevokeAll},
	"inspect":    {1, runInspect},
	"watch":      {0, runWatch},
	"stats":      {0, runStats},
}

func main() {
	// go-redis logs dial failures on its own; this command reports every
	// failure once, in its own words and exit code.
	redis.SetLogger(quietLogger{})
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run is the whole command; it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	pos, err := c.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		err = c.printHelp(helpTopic(args))
		if err == nil {
			return exitOK
		}
	}
	if err == nil && len(pos) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var cmdName string
	if err == nil {
		cmdName = pos[0]
		cmd, ok := commands[cmdName]
		switch {
		case cmdName == "help" && len(pos) <= 2:
			if err = c.printHelp(strings.Join(pos[1:], "")); err == nil {
				return exitOK
			}
		case cmdName == "version" && len(pos) == 1:
			c.printVersion()
			return exitOK
		case cmdName == "help" || cmdName == "version":
			err = usagef("%s takes at most %d argument(s), got %d", cmdName, map[string]int{"help": 1, "version": 0}[cmdName], len(pos)-1)
		case !ok:
			err = usagef("unknown command %q", cmdName)
		case len(pos)-1 != cmd.nargs:
			err = usagef("%s takes %d argument(s), got %d", cmdName, cmd.nargs, len(pos)-1)
		case (c.keepConfig || c.noConfig) && cmdName != "watch":
			err = usagef("-keep-config and -no-config are watch's flags")
		case c.keepConfig && c.noConfig:
			err = usagef("-keep-config and -no-config: give one")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "rjwt: %v\nRun 'rjwt help' for usage.\n", c.redact(err.Error()))
		return exitUsage
	}
	if c.redis != "" && hasPassword(c.redis) {
		fmt.Fprintln(stderr, "rjwt: warning: the -redis URL carries a password, which other users can see in ps and shell history: use REDIS_URL or -redis-file PATH")
	}

	ctx := context.Background()
	if cmdName == "watch" {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	err = commands[cmdName].run(ctx, c, pos[1:])
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code == exitUsage {
		fmt.Fprintf(stderr, "rjwt: %v\n", c.redact(err.Error()))
		return code
	}
	msg := c.redact(err.Error())
	if !strings.HasPrefix(msg, "rjwt: ") { // the core's errors name themselves
		msg = "rjwt: " + cmdName + ": " + msg
	}
	if code == exitUnavailable {
		msg += " (Redis unavailable)"
	}
	fmt.Fprintln(stderr, msg)
	var reported errReported
	if c.json && !errors.As(err, &reported) {
		c.printJSON(map[string]string{"error": c.redact(err.Error()), "status": statusWord(code)})
	}
	return code
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// errReported is a failure whose output (with -json, its one object) was
// already printed: only its message and exit code are left to give.
type errReported struct{ err error }

func (e errReported) Error() string { return e.err.Error() }
func (e errReported) Unwrap() error { return e.err }

func statusWord(code int) string {
	switch code {
	case exitUnavailable:
		return "unavailable"
	case exitUsage:
		return "usage"
	}
	return "failed"
}

// parse reads the flags, which may come before, between or after the
// positional arguments ("--" ends the flags), and returns the positional
// arguments.
func (c *cli) parse(args []string) ([]string, error) {
	if err := refuseSecretFlag(args); err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("rjwt", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.redis, "redis", "", "")
	fs.StringVar(&c.prefix, "prefix", "rjwt:", "")
	fs.BoolVar(&c.json, "json", false, "")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "")
	fs.StringVar(&c.secretFile, "secret-file", "", "")
	fs.StringVar(&c.redisFile, "redis-file", "", "")
	fs.BoolVar(&c.keepConfig, "keep-config", false, "")
	fs.BoolVar(&c.noConfig, "no-config", false, "")

	var pos []string
	rest := args
	for len(rest) > 0 {
		before := rest
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(before) - len(rest); consumed > 0 && before[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
	if c.timeout <= 0 {
		return nil, usagef("-timeout must be positive, got %v", c.timeout)
	}
	prefixSet := false
	fs.Visit(func(f *flag.Flag) { prefixSet = prefixSet || f.Name == "prefix" })
	if p := c.getenv("RJWT_PREFIX"); !prefixSet && p != "" {
		c.prefix = p
	}
	return pos, nil
}

// refuseSecretFlag rejects any attempt to pass the key as a flag value,
// without echoing the value.
func refuseSecretFlag(args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "secret" || name == "key") {
			return usagef("the signing key is never taken from a flag (flags show in ps and shell history): set RJWT_SECRET or use -secret-file PATH")
		}
	}
	return nil
}
