package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rjwt/rjwt"
)

// watchEvent is one event as watch prints it with -json.
type watchEvent struct {
	Time    time.Time      `json:"time"`
	Type    rjwt.EventType `json:"type"`
	Session string         `json:"session,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// runWatch prints the client's events (lifecycle, and session events with
// keyspace notifications on) until SIGINT or SIGTERM cancel ctx; that is a
// clean exit. Redis must answer at start (else exit 3); outages after that
// are reported as events while rjwt reconnects. It adds the notification
// classes rjwt needs to notify-keyspace-events, says so, and sets the
// previous value back on exit (keyspaceConfig).
func runWatch(ctx context.Context, c *cli, _ []string) error {
	adm, err := c.redisClient()
	if err != nil {
		return err
	}
	defer adm.Close()
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	err = adm.Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redis at %s: %w", adm.Options().Addr, err)
	}
	kc := c.keyspaceConfig(ctx, adm)
	defer kc.restore(c, adm)

	cn, err := c.connect(nil, rjwt.WithKeyspaceEvents(kc.listen), rjwt.WithEventBuffer(4096))
	if err != nil {
		return err
	}
	defer cn.Close()
	client := cn.client
	if !c.json {
		fmt.Fprintf(c.stderr, "watching events of prefix %q on %s; Ctrl-C to stop\n", c.prefix, adm.Options().Addr)
	}
	events := client.Events()
	for {
		select {
		case <-ctx.Done():
			cn.Close() // Redis first: a hung server must not hold up the exit
			if n := client.DroppedEvents(); n > 0 {
				fmt.Fprintf(c.stderr, "rjwt: watch: %d event(s) dropped: the output could not keep up\n", n)
			}
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if err := c.printEvent(e); err != nil {
				return err
			}
		}
	}
}

// keyspaceState is what watch did to notify-keyspace-events.
type keyspaceState struct {
	listen    bool   // subscribe to session events (WithKeyspaceEvents)
	restoreTo string // the value before watch changed it
	set       string // the value watch set; "" when it changed nothing
}

// keyspaceConfig reads notify-keyspace-events and decides: with the classes
// rjwt needs (K, g, x) present, nothing changes (nor does the rjwt client
// change anything then); without them, watch adds them and will set the old
// value back on exit, unless -keep-config; with -no-config it changes
// nothing and shows connection events only. Each case is said on stderr.
func (c *cli) keyspaceConfig(ctx context.Context, adm *redis.Client) keyspaceState {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cur, err := adm.ConfigGet(cctx, "notify-keyspace-events").Result()
	have, ok := cur["notify-keyspace-events"]
	switch {
	case err != nil || !ok:
		if err == nil {
			err = errors.New("no such setting")
		}
		if c.noConfig {
			fmt.Fprintf(c.stderr, "rjwt: watch: cannot read notify-keyspace-events (%v); -no-config: showing connection events only\n", err)
			return keyspaceState{}
		}
		fmt.Fprintf(c.stderr, "rjwt: watch: cannot read notify-keyspace-events (%v): session events arrive only if the server sends them (it needs K, g and x)\n", err)
		return keyspaceState{listen: true}
	case hasKeyspaceFlags(have):
		return keyspaceState{listen: true}
	case c.noConfig:
		fmt.Fprintf(c.stderr, "rjwt: watch: notify-keyspace-events is %q, without K, g and x; -no-config leaves it: showing connection events only, no session events\n", have)
		return keyspaceState{}
	}
	want := withKeyspaceFlags(have)
	if err := adm.ConfigSet(cctx, "notify-keyspace-events", want).Err(); err != nil {
		fmt.Fprintf(c.stderr, "rjwt: watch: could not set notify-keyspace-events to %q (%v): session events need it\n", want, err)
		return keyspaceState{listen: true}
	}
	if cur, err := adm.ConfigGet(cctx, "notify-keyspace-events").Result(); err == nil {
		want = cur["notify-keyspace-events"] // in Redis's own spelling
	}
	if c.keepConfig {
		fmt.Fprintf(c.stderr, "rjwt: watch: set notify-keyspace-events to %q (was %q) for session events; -keep-config: it stays set after exit\n", want, have)
		return keyspaceState{listen: true}
	}
	fmt.Fprintf(c.stderr, "rjwt: watch: set notify-keyspace-events to %q (was %q) for session events; it is set back on exit (-keep-config keeps it, -no-config changes nothing)\n", want, have)
	return keyspaceState{listen: true, restoreTo: have, set: want}
}

// restore sets notify-keyspace-events back to its value before watch, if it
// still holds the value watch set (someone else's change is left alone).
func (k keyspaceState) restore(c *cli, adm *redis.Client) {
	if k.set == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cur, err := adm.ConfigGet(ctx, "notify-keyspace-events").Result()
	switch now := cur["notify-keyspace-events"]; {
	case err != nil:
		fmt.Fprintf(c.stderr, "rjwt: watch: could not set notify-keyspace-events back to %q: %v\n", k.restoreTo, err)
	case now != k.set:
		fmt.Fprintf(c.stderr, "rjwt: watch: notify-keyspace-events is now %q, changed by someone else since watch set %q: left as it is\n", now, k.set)
	default:
		if err := adm.ConfigSet(ctx, "notify-keyspace-events", k.restoreTo).Err(); err != nil {
			fmt.Fprintf(c.stderr, "rjwt: watch: could not set notify-keyspace-events back to %q: %v\n", k.restoreTo, err)
			return
		}
		fmt.Fprintf(c.stderr, "rjwt: watch: notify-keyspace-events set back to %q\n", k.restoreTo)
	}
}

// withKeyspaceFlags adds K, g and x to a notify-keyspace-events value, as
// the rjwt client does with WithKeyspaceEvents ("A" stands for g and x).
func withKeyspaceFlags(have string) string {
	out := have
	for _, f := range "Kgx" {
		if !strings.ContainsRune(out, f) && (f == 'K' || !strings.ContainsRune(out, 'A')) {
			out += string(f)
		}
	}
	return out
}

func (c *cli) printEvent(e rjwt.Event) error {
	w := watchEvent{Time: e.Time, Type: e.Type, Session: e.Session}
	if e.Err != nil {
		w.Error = e.Err.Error()
	}
	if c.json {
		return c.printJSON(w)
	}
	line := fmt.Sprintf("%s  %-16s  %s%s", e.Time.Local().Format("2006-01-02 15:04:05.000 -0700"), e.Type, w.Session, w.Error)
	_, err := fmt.Fprintln(c.stdout, strings.TrimRight(line, " "))
	return err
}
