package rjwt

// CacheLen is how many sessions c's local cache remembers (tests only).
func CacheLen(c *Client) int {
	if c.cache == nil {
		return 0
	}
	return c.cache.len()
}
