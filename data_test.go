package rjwt_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rjwt/rjwt"
)

func sessionData(t *testing.T, c *rjwt.Client, tok string) map[string]any {
	t.Helper()
	cl, err := c.Verify(context.Background(), tok, rjwt.WithSession())
	require.NoError(t, err)
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(cl.DataSession)))
	d.UseNumber()
	require.NoError(t, d.Decode(&m), string(cl.DataSession))
	return m
}

func TestConcurrentFieldUpdatesAreAllKept(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tok, err := c.Sign(ctx, "conc", rjwt.WithDataSession(map[string]any{"keep": "me"}))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok)
	require.NoError(t, err)

	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, c.UpdateSessionData(ctx, cl.Session, rjwt.SetField("f"+strconv.Itoa(i), i)))
			_, err := c.IncrSessionData(ctx, cl.Session, "views", 1)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	m := sessionData(t, c, tok)
	assert.Len(t, m, n+2)
	assert.Equal(t, "me", m["keep"])
	assert.Equal(t, json.Number("50"), m["views"], "every increment counted")
	for i := range n {
		assert.Equal(t, json.Number(strconv.Itoa(i)), m["f"+strconv.Itoa(i)])
	}
}

// TestFieldUpdatesKeepOtherBytesExactly: the script edits the JSON as text;
// whatever Go's encoder wrote stays byte for byte, tricky names included.
func TestFieldUpdatesKeepOtherBytesExactly(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	tricky := map[string]any{
		"big":          json.Number("123456789012345678901234567890"),
		"float":        json.Number("0.1000000000000000055511151231257827"),
		"nested":       map[string]any{"a": []any{"}", "{", `"`, `\`, map[string]any{"views": 1}}},
		"<esc>&":       "</script>",
		"quo\"te":      `back\slash`,
		"ünï":          "☃",
		"views-string": "views",
		"empty":        map[string]any{},
		"list":         []any{},
		"null":         nil,
	}
	tok, err := c.Sign(ctx, "bytes", rjwt.WithDataSession(tricky))
	require.NoError(t, err)
	cl, err := c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	before := cl.DataSession

	require.NoError(t, c.UpdateSessionData(ctx, cl.Session, rjwt.SetField("views", 1), rjwt.SetField("<esc>&", "x"),
		rjwt.DeleteField("quo\"te"), rjwt.SetField("ünï", []int{1}), rjwt.DeleteField("absent")))
	n, err := c.IncrSessionData(ctx, cl.Session, "views", 41)
	require.NoError(t, err)
	assert.Equal(t, int64(42), n)

	var want map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(before, &want))
	delete(want, "quo\"te")
	want["<esc>&"] = json.RawMessage(`"x"`)
	want["ünï"] = json.RawMessage(`[1]`)
	want["views"] = json.RawMessage(`42`)
	after, err := c.Verify(ctx, tok, rjwt.WithSession())
	require.NoError(t, err)
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(after.DataSession, &got))
	require.Len(t, got, len(want))
	for k, v := range want {
		assert.Equal(t, string(v), string(got[k]), "field %q", k)
	}
}

func TestFieldUpdateErrors(t *testing.T) {
	c := newClient(t, rjwt.WithMaxSessionData(100), rjwt.WithMultiple(true))
	ctx := context.Background()
	session := func(data any) string {
		tok, err := c.Sign(ctx, "errs", rjwt.WithDataSession(data))
		require.NoError(t, err)
		cl, err := c.Verify(ctx, tok)
		require.NoError(t, err)
		return cl.Session
	}

	none := session(nil)
	n, err := c.IncrSessionData(ctx, none, "n", -3)
	require.NoError(t, err, "no data is an empty object")
	assert.Equal(t, int64(-3), n)
	require.NoError(t, c.UpdateSessionData(ctx, none, rjwt.SetField("s", "x")))

	list := session([]int{1, 2})
	onlySentinel(t, c.UpdateSessionData(ctx, list, rjwt.SetField("a", 1)), rjwt.ErrDataType)
	_, err = c.IncrSessionData(ctx, list, "a", 1)
	onlySentinel(t, err, rjwt.ErrDataType)

	obj := session(map[string]any{"s": "text", "f": 1.5, "big": 999999999999999, "huge": 1e20})
	for _, field := range []string{"s", "f", "huge"} {
		_, err = c.IncrSessionData(ctx, obj, field, 1)
		onlySentinel(t, err, rjwt.ErrDataType)
	}
	_, err = c.IncrSessionData(ctx, obj, "big", 1)
	onlySentinel(t, err, rjwt.ErrDataType) // the sum would have 16 digits

	onlySentinel(t, c.UpdateSessionData(ctx, obj, rjwt.SetField("pad", strings.Repeat("x", 30))), rjwt.ErrTooLarge)
	onlySentinel(t, c.UpdateSessionData(ctx, obj, rjwt.SetField("pad", strings.Repeat("x", 120))), rjwt.ErrTooLarge)
	assert.Error(t, c.UpdateSessionData(ctx, obj, rjwt.SetField("ch", make(chan int))))
	onlySentinel(t, c.UpdateSessionData(ctx, obj, rjwt.SetField(string([]byte{0xff}), 1)), rjwt.ErrDataType)

	require.NoError(t, c.Revoke(ctx, obj))
	onlySentinel(t, c.UpdateSessionData(ctx, obj, rjwt.SetField("a", 1)), rjwt.ErrSessionNotFound)
	_, err = c.IncrSessionData(ctx, obj, "a", 1)
	onlySentinel(t, err, rjwt.ErrSessionNotFound)
	onlySentinel(t, c.UpdateSessionData(ctx, "nope", rjwt.SetField("a", 1)), rjwt.ErrInvalidID)
}
