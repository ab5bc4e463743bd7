package main

// WebRTC ingest ([webrtc], package rtc): built beside the live routes.

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/rtc"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

// buildRTC returns the WebRTC signalling handler, or nil when [webrtc] is
// off. The TURN credential is read from its file here, once.
func buildRTC(c config.WebRTC, listen string, sessions live.Sessions, gw *gateway, logger *slog.Logger) (*rtc.Handler, error) {
	if !c.On() {
		return nil, nil
	}
	o := rtc.Options{Sessions: sessions, Logger: telemetry.Component(logger, "rtc"),
		UDPPortMin: uint16(c.UDPPortMin), UDPPortMax: uint16(c.UDPPortMax), Loopback: netpolicy.LoopbackAddr(listen)} // a browser on this machine (the tests)
	o.Slots = livehttp.FromLimiter(gw.limiter) // as the audio WebSocket's
	if len(c.ICEURLs) > 0 {
		srv := rtc.ICEServer{URLs: c.ICEURLs, Username: c.TURNUsername}
		if c.TURNCredentialFile != "" {
			b, err := os.ReadFile(c.TURNCredentialFile)
			if err != nil {
				return nil, fmt.Errorf("webrtc: turn_credential_file: %w", err)
			}
			srv.Credential = strings.TrimSpace(string(b))
		}
		o.ICEServers = []rtc.ICEServer{srv}
	}
	return rtc.New(o)
}
