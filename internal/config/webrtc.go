package config

import (
	"fmt"
	"strings"
)

// WebRTC configures WebRTC ingest ([webrtc]): a browser's microphone as an
// Opus track over DTLS-SRTP into a live session (GET
// /v1/sessions/{id}/webrtc signals it). ICE offers this host's addresses;
// STUN or TURN servers help browsers behind NAT reach it.
type WebRTC struct {
	// Enabled mounts the signalling route and the WebRTC calls
	// (/v1/realtime/calls, /v1/converse/calls) (IZWI_WEBRTC_ENABLED).
	// Default true; the /mic page falls back to its WebSocket without it.
	Enabled *bool `json:"enabled,omitempty" toml:"enabled"`
	// ICEURLs are STUN/TURN servers ("stun:host:port", "turn:host:port",
	// "turns:…"), at most 8 (IZWI_WEBRTC_ICE_URLS, comma-separated).
	ICEURLs []string `json:"ice_urls,omitempty" toml:"ice_urls"`
	// TURNUsername and the file holding the TURN credential
	// (IZWI_WEBRTC_TURN_USERNAME, IZWI_WEBRTC_TURN_CREDENTIAL_FILE).
	TURNUsername       string `json:"turn_username,omitempty" toml:"turn_username"`
	TURNCredentialFile string `json:"turn_credential_file,omitempty" toml:"turn_credential_file"`
	// UDPPortMin and UDPPortMax bound the UDP ports ICE listens on, for
	// firewalls; both 0 takes any (IZWI_WEBRTC_UDP_PORT_MIN, _MAX).
	UDPPortMin int `json:"udp_port_min,omitempty" toml:"udp_port_min"`
	UDPPortMax int `json:"udp_port_max,omitempty" toml:"udp_port_max"`
}

// On reports whether WebRTC ingest is mounted.
func (x WebRTC) On() bool { return x.Enabled == nil || *x.Enabled }

func (x WebRTC) defaults(Config) WebRTC {
	if len(x.ICEURLs) == 0 {
		x.ICEURLs = nil // an empty list in a file is no list
	}
	if x.Enabled == nil {
		t := true
		x.Enabled = &t
	}
	return x
}

func (x WebRTC) validate() []error {
	var errs []error
	if len(x.ICEURLs) > 8 {
		errs = append(errs, fmt.Errorf("config: webrtc.ice_urls: at most 8, got %d", len(x.ICEURLs)))
	}
	turn := false
	for _, u := range x.ICEURLs {
		scheme, _, _ := strings.Cut(u, ":")
		switch scheme {
		case "stun", "stuns":
		case "turn", "turns":
			turn = true
		default:
			errs = append(errs, fmt.Errorf("config: webrtc.ice_urls %q: want stun:, stuns:, turn: or turns:", u))
		}
	}
	if turn && (x.TURNUsername == "" || x.TURNCredentialFile == "") {
		errs = append(errs, fmt.Errorf("config: webrtc.ice_urls has a TURN server: set turn_username and turn_credential_file"))
	}
	if x.UDPPortMin < 0 || x.UDPPortMax > 65535 || x.UDPPortMin > x.UDPPortMax || (x.UDPPortMin == 0) != (x.UDPPortMax == 0) {
		errs = append(errs, fmt.Errorf("config: webrtc.udp_port_min %d, udp_port_max %d: want both 0, or 1 ≤ min ≤ max ≤ 65535",
			x.UDPPortMin, x.UDPPortMax))
	}
	return errs
}

func (x *WebRTC) applyEnv(e envReader) {
	if _, ok := e.get("IZWI_WEBRTC_ENABLED"); ok {
		var b bool
		e.Bool("IZWI_WEBRTC_ENABLED", &b)
		x.Enabled = &b
	}
	if v, ok := e.get("IZWI_WEBRTC_ICE_URLS"); ok {
		x.ICEURLs = nil
		for u := range strings.SplitSeq(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				x.ICEURLs = append(x.ICEURLs, u)
			}
		}
	}
	e.String("IZWI_WEBRTC_TURN_USERNAME", &x.TURNUsername)
	e.String("IZWI_WEBRTC_TURN_CREDENTIAL_FILE", &x.TURNCredentialFile)
	e.Int("IZWI_WEBRTC_UDP_PORT_MIN", &x.UDPPortMin)
	e.Int("IZWI_WEBRTC_UDP_PORT_MAX", &x.UDPPortMax)
}

func (x WebRTC) envVars() []string {
	return []string{"IZWI_WEBRTC_ENABLED", "IZWI_WEBRTC_ICE_URLS", "IZWI_WEBRTC_TURN_USERNAME",
		"IZWI_WEBRTC_TURN_CREDENTIAL_FILE", "IZWI_WEBRTC_UDP_PORT_MIN", "IZWI_WEBRTC_UDP_PORT_MAX"}
}
