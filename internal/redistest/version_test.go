package redistest

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for out, want := range map[string]string{
		"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n":  "redis 7.0.15",
		"Redis server v=8.0.2 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=b843bbd074c0e1da\n":  "redis 8.0.2",
		"Valkey server v=8.1.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=384b3c0d511f998a\n": "valkey 8.1.1",
		"redis-cli 7.0.15\n":   "redis 7.0.15",
		"valkey-cli 8.0.1\n":   "valkey 8.0.1",
		"KeyDB server v=6.3.4": "",
		"redis-cli\n":          "",
		"Redis server v= sha=": "",
		"":                     "",
	} {
		got, ok := parseVersion(out)
		if got != want || ok != (want != "") {
			t.Errorf("parseVersion(%q) = %q, %v; want %q", out, got, ok, want)
		}
	}
}

// TestExpectedServer: RJWT_EXPECT_SERVER names the server the programs on
// PATH must be; anything else is an error naming the variable and PATH.
func TestExpectedServer(t *testing.T) {
	Need(t)
	v, err := ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	name, ver, _ := strings.Cut(v, " ")
	major, _, _ := strings.Cut(ver, ".")
	desc, err := describePrograms(name + " " + major + ".")
	if err != nil {
		t.Fatalf("the programs on PATH (%s) do not match their own version: %v", desc, err)
	}
	if !strings.Contains(desc, "redis-server is "+v) {
		t.Errorf("description %q does not name redis-server's version %s", desc, v)
	}
	for _, other := range []string{"keydb 6.", name + " 99."} {
		_, err := describePrograms(other)
		if err == nil || !strings.Contains(err.Error(), expectEnv) || !strings.Contains(err.Error(), "PATH") {
			t.Errorf("expecting %q on PATH holding %s: err %v, want one naming %s and PATH", other, v, err, expectEnv)
		}
	}
}
