//go:build !linux

package cache

import "net"

// connWatch: without epoll the death of a tracked connection is seen by the
// cache's heartbeat (a beat) or when go-redis reads it.
type connWatch struct{}

func newConnWatch() *connWatch                                          { return nil }
func (w *connWatch) add(cn net.Conn, sub bool) net.Conn                 { return cn }
func (w *connWatch) readAhead(now int64, drop func(keys []string)) bool { return true }
func (w *connWatch) run(stop <-chan struct{}, died func())              {}
func (w *connWatch) hungUp(now int64) bool                              { return false }
func (w *connWatch) close()                                             {}
func (w *connWatch) setApply(apply func(keys []string))                 {}
