package store

import (
	"context"
)

// observe learns from a failed call. On a single node or a Sentinel-managed
// master a refused dial means Redis is down: the call tells the topology
// watcher (Refused), which marks Redis down at once, so that calls fail
// fast, and walks until Redis answers again.
//
// On a Cluster a refused dial means one master is down, not Redis: calls
// for the other masters' slots must go on, so nothing is marked down here
// (the watcher marks the whole cluster down when no master answers). The
// failure may instead mean the slot map the client holds is stale: a
// master died and its replica is being or has been promoted (refused dial,
// broken connection, CLUSTERDOWN, READONLY from a demoted master, MOVED).
// go-redis re-reads its slot map only on MOVED from the node it asked or on
// its periodic reload (ClusterStateReloadInterval, 60 s by default), so a
// client whose calls went to a dead master kept dialing it for up to a
// minute after the failover. Reloading here (ReloadState: asynchronous,
// coalesced by go-redis to one CLUSTER SLOTS at a time and at most one more
// per 200 ms) makes calls for the failed-over slots succeed within about
// 200 ms of the cluster naming the new master.
func (s *Store) observe(err error) {
	if err == nil {
		return
	}
	if s.cluster != nil {
		if topologyMayHaveChanged(err) {
			s.cluster.ReloadState(context.Background())
		}
		return
	}
	if isDialError(err) {
		s.avail.refusedDial(err)
	}
}

// topologyMayHaveChanged reports a Cluster failure after which the slot map
// is worth reading again: the node could not be reached or answered that it
// no longer serves the slot.
func topologyMayHaveChanged(err error) bool {
	if isDialError(err) || unavailable(err) {
		return true
	}
	return codesMoved[ReplyCode(err)]
}

// TopologyMayHaveChanged is topologyMayHaveChanged for the local cache's
// reads, which go to one master directly: a refused dial, a broken
// connection, CLUSTERDOWN, or MOVED/ASK (the master no longer serves the
// slot) mean the slot map is worth reading again.
func TopologyMayHaveChanged(err error) bool { return topologyMayHaveChanged(err) }
