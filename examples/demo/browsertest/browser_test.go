//go:build linux

// Package browsertest drives the demo's page in a real browser: Debian's
// chromium package, through chromedp, which starts the installed browser
// and downloads nothing. It is a module of its own so that chromedp never
// enters the root module's graph. It builds the demo from this checkout and
// runs it as a subprocess on an embedded Redis.
//
//	apt-get install -y chromium    # once; without apt-get the test skips, saying so
//	cd examples/demo/browsertest && go test -count=1 .
//
// RJWT_SCREENSHOT=path.png keeps a screenshot of the signed-in page there,
// and one of the page after logout as path-signed-out.png.
package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the installed Chromium: $RJWT_CHROMIUM, else Debian's
// chromium on the PATH. Without one it fails where apt-get could install it
// (scripts/test.sh does), and skips, saying so, where it could not.
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("RJWT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := exec.LookPath("apt-get"); err == nil {
		t.Fatal("no chromium: install Debian's package (apt-get install -y chromium; scripts/test.sh does) or set RJWT_CHROMIUM to a Chromium's path")
	}
	t.Skip("no chromium and no apt-get to install it: the browser test is skipped (set RJWT_CHROMIUM to a Chromium's path to run it)")
	return ""
}

// startDemo builds the demo from this checkout and runs it on a free port,
// with access tokens of accessTTL; it returns the page's base URL.
func startDemo(t *testing.T, accessTTL string) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "examples/demo/main.go")); err != nil {
		t.Fatalf("not inside the rjwt checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", bin, "./examples/demo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-access-ttl", accessTTL)
	// An embedded Redis, whatever the environment names; the demo dies
	// with the test process.
	cmd.Env = append(os.Environ(), "REDIS_URL=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "serving on "); ok {
				base <- strings.Fields(rest)[0]
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case b := <-base:
		return b
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not say where it serves within a minute")
	}
	return ""
}

// evilSite serves a page of another origin whose forms post to the demo's
// /logoutAll and /logout, as a forged cross-site request would.
func evilSite(t *testing.T, demo string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>win a prize</title>
<form id="all" method="POST" action="%[1]s/logoutAll"><input type="hidden" name="x" value="1"><button>claim your prize</button></form>
<form id="one" method="POST" action="%[1]s/logout"><button>claim another</button></form>`, demo)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTheDemoPageInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	start := time.Now()
	demo := startDemo(t, "3 seconds") // short, to watch a refresh
	t.Logf("demo at %s after %v", demo, time.Since(start).Round(time.Millisecond))

	resp, err := http.Get(demo + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET / = %d %q, want an HTML page", resp.StatusCode, ct)
	}

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1200, 1000))
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	b := &browser{t: t, ctx: ctx, statuses: map[string]int64{}}

	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok {
			b.put(r.Response.URL, r.Response.Status)
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("chromium up after %v", time.Since(start).Round(time.Millisecond))

	// Register through the page.
	b.do("register", chromedp.Navigate(demo+"/"),
		chromedp.WaitVisible(chromedp.ID("account")),
		chromedp.SendKeys(chromedp.ID("account"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
		chromedp.Click(chromedp.ID("register")),
		chromedp.WaitVisible(chromedp.ID("devices")))
	if who := b.text("who"); who != "alice" {
		t.Fatalf("signed in as %q", who)
	}

	// The tokens are HttpOnly cookies: the browser has them, JavaScript not.
	b.checkCookies(demo, true)
	if c := b.eval("document.cookie"); c != "" {
		t.Errorf("document.cookie = %q: a token is visible to JavaScript", c)
	}
	if s := b.eval("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"); s != "{}{}" {
		t.Errorf("web storage holds %s", s)
	}
	if got := b.fetchStatus("/me"); got != 200 {
		t.Fatalf("/me by cookie: %d", got)
	}
	session := b.eval(`JSON.parse(document.getElementById("claims").textContent).rjwt`)

	// Forms on other origins post to /logoutAll and /logout: refused. One
	// is another site (localhost against 127.0.0.1: SameSite=Lax keeps the
	// cookie off), the other the same site on another port (the cookie is
	// sent: only the cross-origin check stands between it and a logout).
	evil := evilSite(t, demo)
	for _, origin := range []string{strings.Replace(evil.URL, "127.0.0.1", "localhost", 1), evil.URL} {
		for _, form := range []struct{ id, path string }{{"all", "/logoutAll"}, {"one", "/logout"}} {
			b.forget(demo + form.path)
			b.do("the form of "+origin, chromedp.Navigate(origin+"/"),
				chromedp.Click(chromedp.CSS("#"+form.id+" button")))
			b.poll(`location.pathname === "`+form.path+`" && document.body.innerText.length > 0`, 20*time.Second)
			body := b.eval("document.body.innerText")
			if got := b.get(demo + form.path); got != http.StatusForbidden || !strings.Contains(body, "cross_origin") {
				t.Errorf("a form on %s posting to %s: %d %s, want 403 cross_origin", origin, form.path, got, body)
			} else {
				t.Logf("a form on %s posting to %s: %d %s", origin, form.path, got, body)
			}
		}
	}

	// Back on the page: the session lives on (the page refreshes by cookie
	// when the access token has expired meanwhile), and the access token
	// expiring is handled by a refresh through the cookie.
	b.do("back to the page", chromedp.Navigate(demo+"/"))
	b.poll(`["POST /refreshToken: 200", "log in"].some(s => document.getElementById("log").innerText.includes(s))`, 30*time.Second)
	if !strings.Contains(b.text("log"), "POST /refreshToken: 200") {
		t.Fatalf("the session did not survive the forged requests:\n%s", b.text("log"))
	}
	b.poll(`document.querySelectorAll("#device-rows button").length === 1`, 10*time.Second)
	if again := b.eval(`JSON.parse(document.getElementById("claims").textContent).rjwt`); again != session {
		t.Errorf("the session after the forged requests is %q, want %q still", again, session)
	}
	log := b.text("log")
	if !strings.Contains(log, "expired") && !strings.Contains(log, "401") {
		t.Errorf("the log shows no expiry: %s", log)
	}
	t.Logf("views %s; log:\n%s", b.text("views"), log)
	b.checkCookies(demo, true)
	b.screenshot("")

	// Another device logs in (curl, the JSON API); the page's device list
	// shows it, and "end this session" on its row ends it.
	resp, err = http.Post(demo+"/authorize", "application/json", strings.NewReader(`{"account":"alice","password":"correct horse"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a second login: %v %v", resp, err)
	}
	resp.Body.Close()
	b.do("reload the device list", chromedp.Click(chromedp.ID("reload")))
	b.poll(`document.querySelectorAll("#device-rows button").length === 2`, 10*time.Second)
	b.eval(`[...document.querySelectorAll("#device-rows button")].find(x => x.dataset.session !== "` + session + `").click(), ""`)
	b.poll(`document.querySelectorAll("#device-rows button").length === 1`, 10*time.Second)
	if !strings.Contains(b.text("log"), "POST /revokeSession") {
		t.Errorf("no revokeSession in the log:\n%s", b.text("log"))
	}

	// Same-origin logout ends the session and clears the cookies.
	b.do("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("signin")))
	b.poll(`document.getElementById("log").innerText.includes("POST /logout: 204")`, 10*time.Second)
	b.checkCookies(demo, false)
	if got := b.fetchStatus("/me"); got != 401 {
		t.Errorf("/me after logout: %d", got)
	}
	b.screenshot("-signed-out")
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// browser is the test's tab, and the statuses of its responses by URL.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	statuses map[string]int64
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("#%s: %v", id, err)
	}
	return s
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// poll waits until expr is true in the page, at most d. A navigation
// under way ends a poll in the page: it is polled again in the next.
func (b *browser) poll(expr string, d time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(time.Until(deadline)),
			chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.t.Fatalf("waiting for %s: %v", expr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fetchStatus is the status of a same-origin GET from the page.
func (b *browser) fetchStatus(path string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`fetch("`+path+`", {credentials: "same-origin"}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// checkCookies says whether the browser holds the demo's two cookies, and
// that they are HttpOnly.
func (b *browser) checkCookies(demo string, want bool) {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{demo + "/", demo + "/refreshToken"}})
	if err != nil {
		b.t.Fatal(err)
	}
	found := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		found[c.Name] = c
	}
	for _, name := range []string{"rjwt", "rjwt-refresh"} {
		c, ok := found[name]
		switch {
		case want && !ok:
			b.t.Errorf("no cookie %s; the browser has %v", name, found)
		case want && !c.HTTPOnly:
			b.t.Errorf("cookie %s is not HttpOnly", name)
		case !want && ok:
			b.t.Errorf("cookie %s is still there", name)
		}
	}
}

// screenshot saves the page as $RJWT_SCREENSHOT (with suffix before its
// extension), else in the test's temporary directory.
func (b *browser) screenshot(suffix string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Fatal(err)
	}
	path := os.Getenv("RJWT_SCREENSHOT")
	if path == "" {
		path = filepath.Join(b.t.TempDir(), "demo.png")
	}
	path = strings.TrimSuffix(path, ".png") + suffix + ".png"
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

func (b *browser) put(url string, status int64) {
	b.mu.Lock()
	b.statuses[url] = status
	b.mu.Unlock()
}

func (b *browser) get(url string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statuses[url]
}

func (b *browser) forget(url string) {
	b.mu.Lock()
	delete(b.statuses, url)
	b.mu.Unlock()
}
