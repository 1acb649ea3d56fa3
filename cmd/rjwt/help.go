package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// commandHelp is each command's `rjwt help COMMAND` (and `rjwt COMMAND -h`).
var commandHelp = map[string]string{
	"sessions": `Usage: rjwt [flags] sessions USER

Lists USER's live sessions, soonest to expire first: session name, created,
last seen, expiry, TTL left (like 6d23h) and device details. One Redis round
trip (the user's index, never the keyspace). A prefix with no rjwt keys under
it is reported, with the prefixes that have some (a bounded SCAN).
`,
	"revoke": `Usage: rjwt [flags] revoke SESSION

Ends one session ("user:nanoid", a token's "rjwt" claim, Claims.Session).
Exit 1 when it is not live (already revoked, expired, never existed).
`,
	"revoke-all": `Usage: rjwt [flags] revoke-all USER

Ends every session of USER and prints how many (0 is not an error).
`,
	"inspect": `Usage: rjwt [flags] inspect TOKEN

Decodes a token's header and claims, checks it with the signing key (from
$RJWT_SECRET or -secret-file, never a flag) and shows its session in Redis.
TOKEN "-" reads the token from stdin. Exit 0 means valid; without a key,
only that the token is unexpired and its session live.
`,
	"watch": `Usage: rjwt [flags] watch [-keep-config | -no-config]

Prints session and connection events, one a line, until Ctrl-C (SIGINT) or
SIGTERM.

Session events need Redis keyspace notifications: watch adds the classes
rjwt needs (K, g, x) to the server's notify-keyspace-events with CONFIG SET,
says so, and on exit sets the previous value back (if no one changed it
meanwhile). It changes nothing when the server already has them.
  -keep-config   leave the changed notify-keyspace-events set after exit
  -no-config     never change the server's configuration: only listen (with
                 the classes missing, only connection events are shown)
`,
	"stats": `Usage: rjwt [flags] stats

Counts sessions and users under the prefix, measures a sample's memory and
checks the Redis settings rjwt depends on (maxmemory-policy,
notify-keyspace-events). Walks the whole database with SCAN: O(keyspace),
never KEYS. A prefix with no rjwt keys is reported with the prefixes that
have some.
`,
	"version": `Usage: rjwt version

Prints the command's version (its module's, or "(devel)" for a build from a
checkout) and the Go toolchain it was built with.
`,
	"help": `Usage: rjwt help [COMMAND]

Prints the usage of rjwt, or of one command.
`,
}

// helpTopic finds the command named in args, for "rjwt watch -h": the first
// argument that is not a flag or a flag's value.
func helpTopic(args []string) string {
	valued := map[string]bool{"redis": true, "redis-file": true, "prefix": true, "timeout": true, "secret-file": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
		if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && valued[name] {
			i++
		}
	}
	return ""
}

// printHelp writes the help of topic ("" for the whole command) to c.stdout,
// or returns a usage error for an unknown command.
func (c *cli) printHelp(topic string) error {
	if topic == "" {
		fmt.Fprint(c.stdout, usageText)
		return nil
	}
	text, ok := commandHelp[topic]
	if !ok {
		return usagef("unknown command %q", topic)
	}
	fmt.Fprint(c.stdout, text+"\n"+flagsText)
	return nil
}

// version is the command's version: its module's version when built by
// `go install ...@version`, "(devel)" when built from a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func (c *cli) printVersion() error {
	if c.json {
		return c.printJSON(map[string]string{"version": version(), "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH})
	}
	_, err := fmt.Fprintf(c.stdout, "rjwt %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
