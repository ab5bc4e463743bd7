package netpolicy

import "testing"

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.3.4.5": true, "::1": true,
		"0.0.0.0": false, "10.0.0.1": false, "example.com": false, "": false, "::": false, "localhost.example.com": false} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v", host, got)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:4222": true, "[::1]:80": true, "localhost:0": true,
		":4222": false, "0.0.0.0:4222": false, "127.0.0.1": false, "192.168.1.2:4222": false} {
		if got := LoopbackAddr(addr); got != want {
			t.Errorf("LoopbackAddr(%q) = %v", addr, got)
		}
	}
}
