package redistest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CLIInstallHint says how to get redis-cli, which StartCluster needs.
const CLIInstallHint = "redis-cli is not installed: StartCluster creates the cluster with " +
	"`redis-cli --cluster create`. Install it with `sudo apt-get install redis-tools` (Debian/Ubuntu), " +
	"`brew install redis` (macOS) or `dnf install redis` (Fedora), " +
	"or run ./scripts/test.sh, which installs it where it can"

// ClusterNodeTimeout is the cluster-node-timeout StartCluster gives its
// nodes: a master is failed over a few seconds after it dies.
const ClusterNodeTimeout = time.Second

// numSlots is Redis Cluster's hash slot count.
const numSlots = 16384

// Cluster is a Redis Cluster of three masters with one replica each, every
// node a redis-server process of the test's own on free loopback ports.
type Cluster struct {
	tb      testing.TB
	servers []*Server // the masters at creation first
}

// StartCluster starts six redis-server processes with --cluster-enabled yes
// (each in its own directory, for its nodes.conf, with a free port and a free
// cluster bus port), makes them a cluster of three masters and three replicas
// with `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`, and
// waits until every node says cluster_state:ok, all slots are served, every
// master has a replica and every replica's link to its master is up (its
// initial sync done). The extra args go to every
// redis-server. Every process is stopped when the test ends.
func StartCluster(tb testing.TB, args ...string) *Cluster {
	tb.Helper()
	Need(tb)
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatal(InstallHint)
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		tb.Fatal(CLIInstallHint)
	}
	c := &Cluster{tb: tb}
	for i := 0; i < 6; i++ {
		s, err := launch("redis-server", nil, func(port int) ([]string, error) {
			bus, err := FreePort()
			for err == nil && bus == port {
				bus, err = FreePort()
			}
			if err != nil {
				return nil, err
			}
			return append([]string{
				"--cluster-enabled", "yes",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout / time.Millisecond)),
				// A replica fails over however long it was cut off from its master.
				"--cluster-replica-validity-factor", "0",
				// Replicas sync at once, not after the default 5s wait for more.
				"--repl-diskless-sync-delay", "0",
			}, args...), nil
		})
		if err != nil {
			tb.Fatalf("starting cluster node %d: %v", i+1, err)
		}
		tb.Cleanup(s.Close)
		c.servers = append(c.servers, s)
	}

	argv := append([]string{"--cluster", "create"}, c.Addrs()...)
	argv = append(argv, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", argv...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redis-cli %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	if err := c.wait(20*time.Second, true); err != nil {
		tb.Fatalf("cluster did not come up: %v\nredis-cli said:\n%s", err, out)
	}
	// redis-cli makes the first three masters; make sure Addrs lists masters first.
	masters, replicas := c.Masters(), c.Replicas()
	if len(masters) != 3 || len(replicas) != 3 {
		tb.Fatalf("cluster came up with %d masters and %d replicas, want 3 and 3", len(masters), len(replicas))
	}
	c.servers = append(masters, replicas...)
	return c
}

// For is c with its methods failing tb (rather than the TB it was started
// with): for a Cluster started with Shared and used by many tests.
func (c *Cluster) For(tb testing.TB) *Cluster {
	return &Cluster{tb: tb, servers: c.servers}
}

// WaitHealthyWithReplicas is WaitHealthy that also waits until all six nodes
// run, every master serving slots has a replica and every replica's link to
// its master is up: as after a killed master was restarted and rejoined as
// its heir's replica.
func (c *Cluster) WaitHealthyWithReplicas(timeout time.Duration) error {
	return c.wait(timeout, true)
}

// Servers are all six nodes, the masters at creation first.
func (c *Cluster) Servers() []*Server { return slices.Clone(c.servers) }

// Addrs are the nodes' addresses, the masters at creation first: seeds for a
// cluster client.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Masters are the live nodes that serve slots now, as a live node's CLUSTER
// NODES says (after a failover, a promoted replica is one), in the order of
// Servers. Like the other methods that fail the test on an error, call it
// from the test's goroutine.
func (c *Cluster) Masters() []*Server {
	c.tb.Helper()
	var out []*Server
	for _, n := range c.nodes() {
		if n.is("master") && !n.failing() && len(n.slots) > 0 {
			out = append(out, c.server(n.addr))
		}
	}
	return c.sorted(out)
}

// Replicas are the live nodes that are replicas now, in the order of Servers.
func (c *Cluster) Replicas() []*Server {
	c.tb.Helper()
	var out []*Server
	for _, n := range c.nodes() {
		if n.is("slave") && !n.failing() {
			out = append(out, c.server(n.addr))
		}
	}
	return c.sorted(out)
}

// sorted puts servers in the order of c.servers, dropping nils (nodes not
// the harness').
func (c *Cluster) sorted(servers []*Server) []*Server {
	var out []*Server
	for _, s := range c.servers {
		if slices.Contains(servers, s) {
			out = append(out, s)
		}
	}
	return out
}

// ReplicasOf are the live replicas of master now.
func (c *Cluster) ReplicasOf(master *Server) []*Server {
	c.tb.Helper()
	nodes := c.nodes()
	var id string
	for _, n := range nodes {
		if n.addr == master.Addr() {
			id = n.id
		}
	}
	var out []*Server
	for _, n := range nodes {
		if id != "" && n.master == id && n.is("slave") && !n.failing() {
			out = append(out, c.server(n.addr))
		}
	}
	return out
}

// MasterFor is the node serving key's hash slot now (CLUSTER KEYSLOT, then
// CLUSTER NODES, asked of a live node).
func (c *Cluster) MasterFor(key string) *Server {
	c.tb.Helper()
	slot := c.Slot(key)
	for _, n := range c.nodes() {
		if n.is("master") && !n.failing() && n.serves(slot) {
			return c.server(n.addr)
		}
	}
	c.tb.Fatalf("no master serves slot %d (key %q)", slot, key)
	return nil
}

// Slot is key's hash slot, from CLUSTER KEYSLOT.
func (c *Cluster) Slot(key string) int {
	c.tb.Helper()
	var lastErr error
	for _, s := range c.live() {
		v, err := do(s.Addr(), "CLUSTER", "KEYSLOT", key)
		if err == nil {
			if n, ok := v.(int64); ok {
				return int(n)
			}
			err = fmt.Errorf("CLUSTER KEYSLOT replied %v", v)
		}
		lastErr = err
	}
	c.tb.Fatalf("CLUSTER KEYSLOT %q: %v", key, lastErr)
	return 0
}

// WaitHealthy waits until every live node (one whose process runs) says
// cluster_state:ok and sees all slots served by the same live masters, as
// after a failover has completed. It does not wait for replicas.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	return c.wait(timeout, false)
}

// wait polls until the cluster is healthy (and, with replicas, until every
// master has a replica attached and in sync), or timeout passes.
func (c *Cluster) wait(timeout time.Duration, replicas bool) error {
	return waitFor(timeout, func() error { return c.healthy(replicas) })
}

func (c *Cluster) healthy(replicas bool) error {
	live := c.live()
	if len(live) == 0 {
		return errors.New("no cluster node is running")
	}
	var first []string // slot → owner, as the first live node sees it
	for _, s := range live {
		owners, nodes, err := c.nodeView(s)
		if err != nil {
			return err
		}
		if first == nil {
			first = owners
		} else if !slices.Equal(first, owners) {
			return fmt.Errorf("%s and %s disagree on who serves which slots", live[0].Addr(), s.Addr())
		}
		if replicas {
			if err := replicated(s, nodes); err != nil {
				return err
			}
		}
	}
	if replicas && len(live) != len(c.servers) {
		return fmt.Errorf("%d of %d nodes are running", len(live), len(c.servers))
	}
	return nil
}

// nodeView is what node s says of the cluster, checked: cluster_state:ok,
// every slot served by a master that is up and running; owners is each
// slot's master's address.
func (c *Cluster) nodeView(s *Server) (owners []string, nodes []clusterNode, err error) {
	info, err := doString(s.Addr(), "CLUSTER", "INFO")
	if err != nil {
		return nil, nil, err
	}
	if st := infoField(info, "cluster_state"); st != "ok" {
		return nil, nil, fmt.Errorf("%s: cluster_state:%s", s.Addr(), st)
	}
	if nodes, err = clusterNodes(s.Addr()); err != nil {
		return nil, nil, err
	}
	owners = make([]string, numSlots)
	for _, n := range nodes {
		if !n.is("master") {
			continue
		}
		for _, r := range n.slots {
			for slot := r[0]; slot <= r[1]; slot++ {
				owners[slot] = n.addr
			}
		}
	}
	for slot, addr := range owners {
		if addr == "" {
			return nil, nil, fmt.Errorf("%s: slot %d is not served", s.Addr(), slot)
		}
	}
	for _, n := range nodes {
		if !n.is("master") || len(n.slots) == 0 {
			continue
		}
		if n.failing() || n.is("handshake") || n.is("noaddr") {
			return nil, nil, fmt.Errorf("%s: master %s serving slots is %s", s.Addr(), n.addr, strings.Join(n.flags, ","))
		}
		if srv := c.server(n.addr); srv == nil || !srv.Alive() {
			return nil, nil, fmt.Errorf("%s: master %s serving slots is not running", s.Addr(), n.addr)
		}
	}
	return owners, nodes, nil
}

// replicated checks, as node s sees the cluster, that every master serving
// slots has a replica attached, and, when s is a replica, that its link to
// its master is up.
func replicated(s *Server, nodes []clusterNode) error {
	byID := map[string]clusterNode{}
	for _, n := range nodes {
		byID[n.id] = n
	}
	for _, n := range nodes {
		if !n.is("master") || len(n.slots) == 0 {
			continue
		}
		if !slices.ContainsFunc(nodes, func(r clusterNode) bool { return r.master == n.id && r.is("slave") && !r.failing() }) {
			return fmt.Errorf("%s: master %s has no replica", s.Addr(), n.addr)
		}
	}
	i := slices.IndexFunc(nodes, func(n clusterNode) bool { return n.is("myself") })
	if i < 0 {
		return fmt.Errorf("%s: CLUSTER NODES has no myself line", s.Addr())
	}
	me := nodes[i]
	if !me.is("slave") {
		return nil
	}
	info, err := doString(s.Addr(), "INFO", "replication")
	if err != nil {
		return err
	}
	if st := infoField(info, "master_link_status"); st != "up" {
		return fmt.Errorf("replica %s: master_link_status:%s", s.Addr(), st)
	}
	if byID[me.master].addr == "" {
		return fmt.Errorf("replica %s: unknown master %s", s.Addr(), me.master)
	}
	return nil
}

// live are the nodes whose processes run.
func (c *Cluster) live() []*Server {
	var out []*Server
	for _, s := range c.servers {
		if s.Alive() {
			out = append(out, s)
		}
	}
	return out
}

// server is the node listening on addr, or nil.
func (c *Cluster) server(addr string) *Server {
	for _, s := range c.servers {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// nodes is CLUSTER NODES from the first live node that answers; it fails
// the test if none does.
func (c *Cluster) nodes() []clusterNode {
	c.tb.Helper()
	var lastErr error = errors.New("no cluster node is running")
	for _, s := range c.live() {
		nodes, err := clusterNodes(s.Addr())
		if err == nil {
			return nodes
		}
		lastErr = err
	}
	c.tb.Fatalf("CLUSTER NODES: %v", lastErr)
	return nil
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr string
	flags    []string
	master   string // the master's id, for a replica
	slots    [][2]int
}

func (n clusterNode) is(flag string) bool { return slices.Contains(n.flags, flag) }

// failing: flagged as failed (fail) or possibly failed (fail?).
func (n clusterNode) failing() bool { return n.is("fail") || n.is("fail?") }

func (n clusterNode) serves(slot int) bool {
	for _, r := range n.slots {
		if r[0] <= slot && slot <= r[1] {
			return true
		}
	}
	return false
}

func clusterNodes(addr string) ([]clusterNode, error) {
	text, err := doString(addr, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	var nodes []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("%s: CLUSTER NODES line %q", addr, line)
		}
		n := clusterNode{id: f[0], flags: strings.Split(f[2], ","), master: f[3]}
		n.addr, _, _ = strings.Cut(f[1], "@")
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // a slot being migrated
				continue
			}
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%s: CLUSTER NODES slot range %q", addr, r)
			}
			n.slots = append(n.slots, [2]int{a, b})
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}
