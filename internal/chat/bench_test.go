package chat

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
)

// BenchmarkProxyOverhead compares one chat completion through Izwi's proxy
// with the same call made to the upstream double directly; "ratio" is
// proxied time over direct time.
func BenchmarkProxyOverhead(b *testing.B) {
	up := chattest.New(chattest.Options{})
	defer up.Close()
	px := newProxy(b, Options{Config: chatConfig(b, oneUpstream(b, up, ""))})
	srv := izwi(b, px)
	body := []byte(`{"model":"test-model","messages":[{"role":"user","content":"hello there"}]}`)
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	call := func(url string, auth bool) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth {
			req.Header.Set("Authorization", "Bearer "+callerKey)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	var direct, proxied time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		call(up.BaseURL()+"/chat/completions", false)
		t1 := time.Now()
		call(srv.URL+"/v1/chat/completions", true)
		direct, proxied = direct+t1.Sub(t0), proxied+time.Since(t1)
	}
	b.ReportMetric(float64(direct.Microseconds())/float64(b.N), "direct-µs/op")
	b.ReportMetric(float64(proxied.Microseconds())/float64(b.N), "proxied-µs/op")
	b.ReportMetric(float64(proxied)/float64(direct), "ratio")
}

// BenchmarkStreamPerChunk streams a 200-chunk answer through the proxy and
// directly, and reports the time per chunk of each and their ratio.
func BenchmarkStreamPerChunk(b *testing.B) {
	const words = 200
	up := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return strings.Repeat("w ", words) }})
	defer up.Close()
	px := newProxy(b, Options{Config: chatConfig(b, oneUpstream(b, up, ""))})
	srv := izwi(b, px)
	body := []byte(`{"model":"test-model","stream":true,"messages":[{"role":"user","content":"go"}]}`)
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	stream := func(url string, auth bool) int {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth {
			req.Header.Set("Authorization", "Bearer "+callerKey)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		n := 0
		_ = readEvents(resp.Body, 1<<30, func(event) error { n++; return nil })
		return n
	}
	var direct, proxied time.Duration
	chunks := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		chunks = stream(up.BaseURL()+"/chat/completions", false)
		t1 := time.Now()
		if n := stream(srv.URL+"/v1/chat/completions", true); n != chunks {
			b.Fatalf("%d events proxied, %d direct", n, chunks)
		}
		direct, proxied = direct+t1.Sub(t0), proxied+time.Since(t1)
	}
	per := float64(b.N * chunks)
	b.ReportMetric(float64(direct.Nanoseconds())/per/1000, "direct-µs/chunk")
	b.ReportMetric(float64(proxied.Nanoseconds())/per/1000, "proxied-µs/chunk")
	b.ReportMetric(float64(proxied)/float64(direct), "ratio")
}
