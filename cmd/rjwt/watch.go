package main

import (
	"context"
	"fmt"
	"strings"
	"time"

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
// are reported as events while rjwt reconnects.
func runWatch(ctx context.Context, c *cli, _ []string) error {
	cn, err := c.connect(nil, rjwt.WithKeyspaceEvents(true), rjwt.WithEventBuffer(4096))
	if err != nil {
		return err
	}
	defer cn.Close()
	client, rdb := cn.client, cn.rdb

	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	err = rdb.Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redis at %s: %w", rdb.Options().Addr, err)
	}
	if !c.json {
		fmt.Fprintf(c.stderr, "watching events of prefix %q on %s; Ctrl-C to stop\n", c.prefix, rdb.Options().Addr)
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
