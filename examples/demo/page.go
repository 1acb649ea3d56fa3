package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"
)

// The page at GET /: plain HTML and a little JavaScript, no build step. Its
// script is inlined, and the Content-Security-Policy allows that script
// alone (by its hash), no other script, no framing and no requests to
// other origins.
var (
	//go:embed page/index.html
	pageHTML string
	//go:embed page/app.js
	pageJS string

	page, pageCSP = buildPage(pageHTML, pageJS)
)

func buildPage(html, js string) ([]byte, string) {
	sum := sha256.Sum256([]byte(js))
	csp := "default-src 'self'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	return []byte(strings.Replace(html, "SCRIPT", js, 1)), csp
}

// servePage answers GET / with the page.
func servePage(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write(page)
}
