package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// SentinelInstallHint says how to get redis-sentinel, which StartSentinel
// needs (it falls back to `redis-server --sentinel` when redis-sentinel is
// not on the PATH).
const SentinelInstallHint = "redis-sentinel is not installed (and `redis-server --sentinel` did not work): " +
	"StartSentinel runs three Sentinels. Install it with `sudo apt-get install redis-sentinel` (Debian/Ubuntu), " +
	"`brew install redis` (macOS) or `dnf install redis` (Fedora), " +
	"or run ./scripts/test.sh, which installs it where it can"

// Sentinel settings StartSentinel uses: a dead master is failed over a few
// seconds after it dies.
const (
	SentinelMasterName      = "mymaster"
	SentinelQuorum          = 2
	SentinelDownAfter       = time.Second
	SentinelFailoverTimeout = 3 * time.Second
)

// Sentinel is a master, its replica and three Sentinels monitoring them, every
// one a process of the test's own on a free loopback port.
type Sentinel struct {
	sentinels []*Server

	mu              sync.Mutex
	master, replica *Server
}

// StartSentinel starts a redis-server master and a replica of it (the extra
// args go to both), then three redis-sentinel processes (or `redis-server
// --sentinel` where there is no redis-sentinel), each with a config of its own
// monitoring the master as SentinelMasterName with quorum SentinelQuorum,
// down-after-milliseconds SentinelDownAfter and failover-timeout
// SentinelFailoverTimeout. It waits until the replica is in sync and every
// Sentinel names the master, sees the replica and the two other Sentinels.
// Every process is stopped when the test ends.
func StartSentinel(tb testing.TB, args ...string) *Sentinel {
	tb.Helper()
	fast := append([]string{"--repl-diskless-sync-delay", "0"}, args...)
	s := &Sentinel{master: Start(tb, fast...)}
	s.replica = Start(tb, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(s.master.Port)}, fast...)...)
	if err := waitFor(10*time.Second, func() error { return replicaUp(s.replica.Addr()) }); err != nil {
		tb.Fatal(err)
	}

	bin, pre := "redis-sentinel", []string(nil)
	if _, err := exec.LookPath(bin); err != nil {
		bin, pre = "redis-server", []string{"--sentinel"}
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatal(SentinelInstallHint)
		}
	}
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d\n"+
		"sentinel down-after-milliseconds %[1]s %[4]d\n"+
		"sentinel failover-timeout %[1]s %[5]d\n"+
		"sentinel parallel-syncs %[1]s 1\n",
		SentinelMasterName, s.master.Port, SentinelQuorum,
		SentinelDownAfter.Milliseconds(), SentinelFailoverTimeout.Milliseconds())
	for i := 0; i < 3; i++ {
		dir, err := os.MkdirTemp("", "redistest-sentinel-")
		if err != nil {
			tb.Fatal(err)
		}
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			tb.Fatal(err)
		}
		// The config file must come first; Sentinel rewrites it as it learns.
		sn, err := launchIn(dir, bin, append([]string{path}, pre...), func(int) ([]string, error) { return nil, nil })
		if err != nil {
			tb.Fatalf("%v\n%s", err, SentinelInstallHint)
		}
		tb.Cleanup(sn.Close)
		s.sentinels = append(s.sentinels, sn)
	}
	if err := waitFor(15*time.Second, s.agreed); err != nil {
		tb.Fatalf("sentinels did not settle: %v", err)
	}
	return s
}

// MasterName is the name the Sentinels monitor the master under, for
// redis.FailoverOptions.MasterName.
func (s *Sentinel) MasterName() string { return SentinelMasterName }

// SentinelAddrs are the three Sentinels' addresses.
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, sn := range s.sentinels {
		addrs[i] = sn.Addr()
	}
	return addrs
}

// Sentinels are the three Sentinel processes (to kill one, say).
func (s *Sentinel) Sentinels() []*Server { return slices.Clone(s.sentinels) }

// Master is the master: the one started as master, or after WaitFailover
// succeeded, the promoted replica.
func (s *Sentinel) Master() *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.master
}

// Replica is the other data server: the one started as replica, or after
// WaitFailover succeeded, the old master (which is likely dead).
func (s *Sentinel) Replica() *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replica
}

// WaitFailover waits until a quorum of the live Sentinels name the replica as
// master and the replica says role:master, as after the master was killed.
// Then Master and Replica swap, and it returns the new master's address.
func (s *Sentinel) WaitFailover(timeout time.Duration) (newMasterAddr string, err error) {
	s.mu.Lock()
	master, replica := s.master, s.replica
	s.mu.Unlock()
	err = waitFor(timeout, func() error {
		agree := 0
		var seen []string
		for _, sn := range s.sentinels {
			if !sn.Alive() {
				continue
			}
			addr, err := s.masterAddr(sn.Addr())
			if err != nil {
				seen = append(seen, err.Error())
				continue
			}
			seen = append(seen, sn.Addr()+" names "+addr)
			if addr == replica.Addr() {
				agree++
			}
		}
		if agree < SentinelQuorum {
			return fmt.Errorf("%d sentinels name the replica %s as master, want %d (still %s: %v)",
				agree, replica.Addr(), SentinelQuorum, master.Addr(), seen)
		}
		info, err := doString(replica.Addr(), "INFO", "replication")
		if err != nil {
			return err
		}
		if role := infoField(info, "role"); role != "master" {
			return fmt.Errorf("the replica %s has role:%s", replica.Addr(), role)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.master, s.replica = replica, master
	s.mu.Unlock()
	return replica.Addr(), nil
}

// Heal restarts the replica if its process is not running (the old master,
// after WaitFailover), makes it a replica of the master at once (REPLICAOF,
// as the Sentinels would, but they first watch a returning old master for
// about ten seconds), and waits until it is a synced replica and every
// Sentinel names the master, sees it up with its one replica, and the two
// other Sentinels: ready for another failover. If the Sentinels failed over
// again meanwhile (a master too slow to answer them within
// SentinelDownAfter, on a loaded machine), Heal follows: Master and Replica
// are what the Sentinels say when it returns.
func (s *Sentinel) Heal(timeout time.Duration) error {
	return waitFor(timeout, func() error {
		s.follow()
		replica, master := s.Replica(), s.Master()
		if !replica.Alive() {
			if err := replica.Restart(); err != nil {
				return err
			}
			if _, err := do(replica.Addr(), "REPLICAOF", "127.0.0.1", strconv.Itoa(master.Port)); err != nil {
				return err
			}
		}
		if err := replicaUp(replica.Addr()); err != nil {
			return err
		}
		return s.agreed()
	})
}

// follow makes Master the node a quorum of live Sentinels name, if they
// name the replica.
func (s *Sentinel) follow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	votes := 0
	for _, sn := range s.sentinels {
		if addr, err := s.masterAddr(sn.Addr()); err == nil && addr == s.replica.Addr() {
			votes++
		}
	}
	if votes >= SentinelQuorum {
		s.master, s.replica = s.replica, s.master
	}
}

// agreed: every Sentinel names the master, sees it up, its replica, and the
// two other Sentinels.
func (s *Sentinel) agreed() error {
	s.mu.Lock()
	master := s.master
	s.mu.Unlock()
	for _, sn := range s.sentinels {
		addr, err := s.masterAddr(sn.Addr())
		if err != nil {
			return err
		}
		if addr != master.Addr() {
			return fmt.Errorf("sentinel %s names %s as master, not %s", sn.Addr(), addr, master.Addr())
		}
		v, err := do(sn.Addr(), "SENTINEL", "MASTER", SentinelMasterName)
		if err != nil {
			return err
		}
		m := pairs(v)
		if m["flags"] != "master" || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
			return fmt.Errorf("sentinel %s: flags=%s num-slaves=%s num-other-sentinels=%s",
				sn.Addr(), m["flags"], m["num-slaves"], m["num-other-sentinels"])
		}
	}
	return nil
}

// masterAddr is SENTINEL GET-MASTER-ADDR-BY-NAME as "ip:port".
func (s *Sentinel) masterAddr(sentinel string) (string, error) {
	v, err := do(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMasterName)
	if err != nil {
		return "", err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return "", fmt.Errorf("sentinel %s: GET-MASTER-ADDR-BY-NAME replied %v", sentinel, v)
	}
	return fmt.Sprintf("%v:%v", a[0], a[1]), nil
}

// pairs turns a flat field/value array reply into a map.
func pairs(v any) map[string]string {
	m := map[string]string{}
	a, _ := v.([]any)
	for i := 0; i+1 < len(a); i += 2 {
		m[fmt.Sprint(a[i])] = fmt.Sprint(a[i+1])
	}
	return m
}

// replicaUp: the replica at addr is attached to its master and in sync.
func replicaUp(addr string) error {
	info, err := doString(addr, "INFO", "replication")
	if err != nil {
		return err
	}
	if st := infoField(info, "master_link_status"); st != "up" {
		return fmt.Errorf("replica %s: master_link_status:%s", addr, st)
	}
	return nil
}

// waitFor polls check until it returns nil or timeout passes.
func waitFor(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
