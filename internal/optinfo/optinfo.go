// Package optinfo tells rjwt's own packages which settings a list of
// rjwt.Option gives, without making that part of rjwt's API: rjwttest uses it
// to add a key only when none is given and to refuse, by name, the options
// its embedded Redis cannot serve.
//
// It cannot import rjwt (rjwt fills Of in, and rjwt importing a package
// that imports rjwt is a cycle), so the options come in as any.
package optinfo

// Info is what a list of options sets, as far as rjwttest needs to know.
type Info struct {
	Key            bool // WithSecret, WithSigningKey or WithVerificationKey
	Addr           bool // WithAddr
	URL            bool // WithURL
	RedisClient    bool // WithRedisClient
	Password       bool // WithPassword (non-empty)
	LocalCache     bool // WithLocalCache with a positive size
	KeyspaceEvents bool // WithKeyspaceEvents(true)
	ReplicaAck     bool // WithReplicaAck
}

// Of applies opts, a []rjwt.Option, to a fresh configuration and reports
// what they set, or the first option's error. rjwt sets it in its init.
var Of func(opts any) (Info, error)
