package outputstest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/outputs"
)

// OBS is an obs-websocket v5 double.
type OBS struct {
	*httptest.Server
	password string

	mu        sync.Mutex
	streaming bool
	down      bool
	captions  []string
	authFails int
	conns     map[*websocket.Conn]struct{}
}

// NewOBS starts the double; a non-empty password turns authentication on.
// It starts streaming.
func NewOBS(password string) *OBS {
	o := &OBS{password: password, streaming: true, conns: map[*websocket.Conn]struct{}{}}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	return o
}

// WSURL is the address to configure (ws://127.0.0.1:port).
func (o *OBS) WSURL() string { return "ws" + strings.TrimPrefix(o.URL, "http") }

// SetStreaming starts or stops OBS's stream: SendStreamCaption fails with
// 501 OutputNotRunning while it is stopped.
func (o *OBS) SetStreaming(on bool) { o.mu.Lock(); o.streaming = on; o.mu.Unlock() }

// SetDown takes OBS away (every connection dropped, new ones refused) or
// brings it back.
func (o *OBS) SetDown(down bool) {
	o.mu.Lock()
	o.down = down
	var cs []*websocket.Conn
	if down {
		for c := range o.conns {
			cs = append(cs, c)
		}
	}
	o.mu.Unlock()
	for _, c := range cs {
		c.CloseNow()
	}
}

// Captions returns the caption texts OBS put into its stream.
func (o *OBS) Captions() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.captions...)
}

// AuthFailures counts Identify messages with a wrong authentication string.
func (o *OBS) AuthFailures() int { o.mu.Lock(); defer o.mu.Unlock(); return o.authFails }

func send(ctx context.Context, c *websocket.Conn, op int, d any) error {
	b, _ := json.Marshal(d)
	m, _ := json.Marshal(outputs.OBSMessage{Op: op, D: b})
	return c.Write(ctx, websocket.MessageText, m)
}

func (o *OBS) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	down := o.down
	o.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{outputs.OBSSubprotocol}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	if c.Subprotocol() != outputs.OBSSubprotocol {
		c.Close(4006, "no obswebsocket.json subprotocol") // UnsupportedRpcVersion-ish: a client that would not be understood
		return
	}
	o.mu.Lock()
	o.conns[c] = struct{}{}
	o.mu.Unlock()
	defer func() { o.mu.Lock(); delete(o.conns, c); o.mu.Unlock() }()
	ctx := r.Context()
	hello := map[string]any{"obsWebSocketVersion": "5.5.4", "rpcVersion": 1}
	var salt, challenge string
	if o.password != "" {
		salt, challenge = random(), random()
		hello["authentication"] = map[string]string{"challenge": challenge, "salt": salt}
	}
	if send(ctx, c, 0, hello) != nil {
		return
	}
	identified := false
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var m outputs.OBSMessage
		if json.Unmarshal(b, &m) != nil {
			c.Close(4002, "Message is not valid JSON.")
			return
		}
		switch {
		case m.Op == 1 && !identified:
			var id struct {
				RPCVersion     int    `json:"rpcVersion"`
				Authentication string `json:"authentication"`
			}
			_ = json.Unmarshal(m.D, &id)
			if id.RPCVersion != 1 {
				c.Close(4010, "RPC version not supported.")
				return
			}
			if o.password != "" && id.Authentication != outputs.OBSAuth(o.password, salt, challenge) {
				o.mu.Lock()
				o.authFails++
				o.mu.Unlock()
				c.Close(4009, "Authentication failed.")
				return
			}
			identified = true
			if send(ctx, c, 2, map[string]int{"negotiatedRpcVersion": 1}) != nil {
				return
			}
		case !identified:
			c.Close(4007, "You must identify before sending other messages.")
			return
		case m.Op == 6:
			var req struct {
				RequestType string `json:"requestType"`
				RequestID   string `json:"requestId"`
				RequestData struct {
					CaptionText string `json:"captionText"`
				} `json:"requestData"`
			}
			_ = json.Unmarshal(m.D, &req)
			status := map[string]any{"result": true, "code": 100}
			o.mu.Lock()
			switch {
			case req.RequestType != "SendStreamCaption":
				status = map[string]any{"result": false, "code": 204, "comment": "Your request type is not valid."}
			case !o.streaming:
				status = map[string]any{"result": false, "code": 501, "comment": "The stream output is not running."}
			default:
				o.captions = append(o.captions, req.RequestData.CaptionText)
			}
			o.mu.Unlock()
			if send(ctx, c, 7, map[string]any{"requestType": req.RequestType, "requestId": req.RequestID, "requestStatus": status}) != nil {
				return
			}
		}
	}
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
