package rjwt

import "github.com/rjwt/rjwt/internal/optinfo"

// The options' settings, for rjwttest (internal/optinfo).
func init() {
	optinfo.Of = func(opts any) (optinfo.Info, error) {
		cfg := defaultConfig()
		for _, o := range opts.([]Option) {
			if o == nil {
				continue
			}
			if err := o(&cfg); err != nil {
				return optinfo.Info{}, err
			}
		}
		return optinfo.Info{
			Key:            cfg.signing != nil || len(cfg.verifying) > 0,
			Addr:           cfg.ops.addrSet,
			URL:            cfg.ops.url != nil,
			RedisClient:    cfg.rdb != nil,
			Password:       cfg.password != "",
			LocalCache:     cfg.cacheEntries > 0,
			KeyspaceEvents: cfg.keyspaceEvents,
			ReplicaAck:     cfg.replicaAck > 0,
		}, nil
	}
}
