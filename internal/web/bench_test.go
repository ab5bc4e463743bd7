package web

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkDisplayPage: rendering the kiosk page, its QR code included
// (the most expensive page; every other page is a template fill).
func BenchmarkDisplayPage(b *testing.B) {
	h := Handler(Options{})
	r := httptest.NewRequest("GET", "/display/ses_abcdefghijklmnopqrstuvwxyz?lines=4", nil)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkAssetRevalidate: a cached script revalidated (304), what
// every page load after the first costs per asset.
func BenchmarkAssetRevalidate(b *testing.B) {
	h := Handler(Options{})
	etag := h.(*handler).assets["captions.js"].etag
	r := httptest.NewRequest("GET", "/assets/captions.js", nil)
	r.Header.Set("If-None-Match", etag)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 304 {
			b.Fatal(w.Code)
		}
	}
}
