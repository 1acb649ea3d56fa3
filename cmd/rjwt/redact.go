package main

import (
	"os"
	"strings"
)

// target is the Redis a command talks to, and where it was named, for
// errors: "-redis", "-redis-file PATH", "REDIS_URL" or "the default".
type target struct{ value, source string }

func (c *cli) redisTarget() (target, error) {
	switch {
	case c.redis != "" && c.redisFile != "":
		return target{}, usagef("-redis and -redis-file both name a Redis: give one")
	case c.redis != "":
		return target{c.redis, "-redis"}, nil
	case c.redisFile != "":
		b, err := os.ReadFile(c.redisFile)
		if err != nil {
			return target{}, usagef("-redis-file: %v", err)
		}
		c.fileTarget = strings.TrimSpace(string(b))
		if c.fileTarget == "" {
			return target{}, usagef("-redis-file %s is empty", c.redisFile)
		}
		return target{c.fileTarget, "-redis-file " + c.redisFile}, nil
	case c.getenv("REDIS_URL") != "":
		return target{c.getenv("REDIS_URL"), "REDIS_URL"}, nil
	}
	return target{"127.0.0.1:6379", "the default"}, nil
}

// userinfo returns the "user:password" part of a URL-like s (before the
// last "@" of its authority), and whether it has a password. It reads s
// without parsing it, so that a URL that does not parse is redacted too.
func userinfo(s string) (info string, password bool) {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", false
	}
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return "", false
	}
	info = rest[:at]
	_, pass, has := strings.Cut(info, ":")
	return info, has && pass != ""
}

func hasPassword(s string) bool {
	_, p := userinfo(s)
	return p
}

// redactURL hides the password of a URL-like s: "redis://:xxxxx@host".
func redactURL(s string) string {
	info, p := userinfo(s)
	if !p {
		return s
	}
	user, _, _ := strings.Cut(info, ":")
	return strings.Replace(s, info+"@", user+":xxxxx@", 1)
}

// redact hides, in a message about to be printed, the password of every
// Redis URL this invocation was given (-redis, -redis-file, REDIS_URL):
// the whole URL, its user:password and the password alone.
func (c *cli) redact(msg string) string {
	for _, v := range []string{c.redis, c.fileTarget, c.getenv("REDIS_URL")} {
		info, p := userinfo(v)
		if !p {
			continue
		}
		user, pass, _ := strings.Cut(info, ":")
		msg = strings.ReplaceAll(msg, v, redactURL(v))
		msg = strings.ReplaceAll(msg, info+"@", user+":xxxxx@")
		if len(pass) >= 4 {
			msg = strings.ReplaceAll(msg, pass, "xxxxx")
		}
	}
	return msg
}
