package rjwthttp_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
	"github.com/rjwt/rjwt/rjwthttp"
)

// deviceApp serves login, the device list and revoke-one.
func deviceApp(t *testing.T, c *rjwt.Client, opts ...rjwthttp.HandlerOption) *httptest.Server {
	t.Helper()
	h, err := rjwthttp.NewHandlers(c, &memAccounts{}, opts...)
	require.NoError(t, err)
	mw := rjwthttp.Middleware(c)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", h.Register)
	mux.HandleFunc("POST /authorize", h.Authorize)
	mux.Handle("GET /sessions", mw(http.HandlerFunc(h.Sessions)))
	mux.Handle("POST /revokeSession", mw(http.HandlerFunc(h.RevokeSession)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func login(t *testing.T, url, account, userAgent string) rjwt.Pair {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"account": account, "password": "correct horse"})
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Forwarded-For", "203.0.113.99")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var p rjwt.Pair
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	return p
}

type deviceList struct {
	Sessions []struct {
		Session   string
		CreatedAt *string
		LastSeen  *string
		Meta      map[string]string
		Current   bool
	}
}

func listDevices(t *testing.T, url, token string) deviceList {
	t.Helper()
	r := do(t, "GET", url+"/sessions", token, nil)
	require.Equal(t, http.StatusOK, r.status, r.raw)
	var l deviceList
	require.NoError(t, json.Unmarshal([]byte(r.raw), &l))
	return l
}

func TestLoginRecordsTheDeviceAndTheListShowsIt(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	srv := deviceApp(t, c)
	phone := login(t, srv.URL+"/register", "dora", "Phone/1.0")
	laptop := login(t, srv.URL+"/authorize", "dora", "Laptop/"+strings.Repeat("x", 2000))

	l := listDevices(t, srv.URL, laptop.Token)
	require.Len(t, l.Sessions, 2)
	agents := map[string]bool{}
	for _, s := range l.Sessions {
		assert.Equal(t, "127.0.0.1", s.Meta["ip"], "r.RemoteAddr's host, not X-Forwarded-For")
		assert.LessOrEqual(t, len(s.Meta["userAgent"]), 512, "user agents are cut")
		agents[s.Meta["userAgent"][:5]] = s.Current
		require.NotNil(t, s.CreatedAt)
		require.NotNil(t, s.LastSeen)
	}
	assert.Equal(t, map[string]bool{"Phone": false, "Lapto": true}, agents)
	_ = phone

	t.Run("off", func(t *testing.T) {
		c := newClient(t)
		srv := deviceApp(t, c, rjwthttp.WithDeviceMeta(nil))
		p := login(t, srv.URL+"/register", "ed", "Phone/1.0")
		l := listDevices(t, srv.URL, p.Token)
		require.Len(t, l.Sessions, 1)
		assert.Nil(t, l.Sessions[0].Meta)
	})
	t.Run("custom", func(t *testing.T) {
		c := newClient(t)
		srv := deviceApp(t, c, rjwthttp.WithDeviceMeta(func(r *http.Request) map[string]string {
			return map[string]string{"ip": r.Header.Get("X-Forwarded-For")}
		}))
		p := login(t, srv.URL+"/register", "flo", "Phone/1.0")
		l := listDevices(t, srv.URL, p.Token)
		assert.Equal(t, map[string]string{"ip": "203.0.113.99"}, l.Sessions[0].Meta)
	})
}

func TestRevokeSessionEndsOnlyTheUsersOwn(t *testing.T) {
	c := newClient(t, rjwt.WithMultiple(true))
	srv := deviceApp(t, c)
	// Account "a" is user "user-a"; account "a:b" is user "user-a:b", whose
	// sessions start with "user-a:".
	a1 := login(t, srv.URL+"/register", "a", "one")
	a2 := login(t, srv.URL+"/authorize", "a", "two")
	ab := login(t, srv.URL+"/register", "a:b", "three")
	abSession := listDevices(t, srv.URL, ab.Token).Sessions[0].Session
	require.True(t, strings.HasPrefix(abSession, "user-a:"))

	r := do(t, "POST", srv.URL+"/revokeSession", a1.Token, map[string]string{"session": abSession})
	assert.Equal(t, http.StatusNotFound, r.status, r.raw)
	assert.Equal(t, "not_found", r.body["error"])
	assert.Len(t, listDevices(t, srv.URL, ab.Token).Sessions, 1, "another user's session lives on")

	r = do(t, "POST", srv.URL+"/revokeSession", a1.Token, map[string]string{"session": "not a session"})
	assert.Equal(t, http.StatusBadRequest, r.status, r.raw)
	assert.Equal(t, http.StatusUnauthorized, do(t, "POST", srv.URL+"/revokeSession", "", map[string]string{"session": abSession}).status)

	var other string
	for _, s := range listDevices(t, srv.URL, a1.Token).Sessions {
		if !s.Current {
			other = s.Session
		}
	}
	r = do(t, "POST", srv.URL+"/revokeSession", a1.Token, map[string]string{"session": other})
	assert.Equal(t, http.StatusNoContent, r.status, r.raw)
	assert401(t, do(t, "GET", srv.URL+"/sessions", a2.Token, nil))
	assert.Len(t, listDevices(t, srv.URL, a1.Token).Sessions, 1)
	assert.Equal(t, http.StatusNotFound, do(t, "POST", srv.URL+"/revokeSession", a1.Token, map[string]string{"session": other}).status, "already ended")
}

// TestConcurrentRequestsKeepEachOthersSessionChanges: each request sets its
// own field and increments a counter; none is lost.
func TestConcurrentRequestsKeepEachOthersSessionChanges(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	tok, err := c.Sign(ctx, "many", rjwt.WithDataSession(map[string]int{"seed": 1}))
	require.NoError(t, err)
	mw := rjwthttp.Middleware(c, rjwthttp.WithSessionData())
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := rjwthttp.SessionFromContext(r.Context())
		assert.NoError(t, s.Set("req-"+r.URL.Query().Get("i"), true))
		assert.NoError(t, s.Delete("seed"))
		_, err := s.Incr(r.Context(), "hits", 1)
		assert.NoError(t, err)
	})))
	defer srv.Close()
	const n = 51
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.Equal(t, http.StatusOK, do(t, "GET", srv.URL+"/?i="+strconv.Itoa(i), tok, nil).status)
		}()
	}
	wg.Wait()
	cl, err := c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(cl.DataSession, &m))
	assert.Equal(t, float64(n), m["hits"])
	assert.NotContains(t, m, "seed")
	assert.Len(t, m, n+1, "every request's own field, and the counter")
}
