package outputs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

// obs sends captions to OBS Studio over obs-websocket v5 (OBS 28+):
// the server's Hello (op 0), our Identify (op 1) with the authentication
// string when the server asks for one, its Identified (op 2), then one
// SendStreamCaption request (op 6) per caption, answered by op 7. OBS puts
// the text into the stream as CEA-608 captions (Twitch, YouTube and others
// show them). The connection stays open between captions; any failure
// drops it and the next attempt dials again.
type obs struct {
	url   string
	creds func() (string, error) // the password, read at each dial
	conn  *websocket.Conn
	n     uint64
}

// OBSSubprotocol is obs-websocket's JSON subprotocol.
const OBSSubprotocol = "obswebsocket.json"

// OBS op codes (obs-websocket 5.x protocol.md).
const (
	obsHello      = 0
	obsIdentify   = 1
	obsIdentified = 2
	obsRequest    = 6
	obsResponse   = 7
)

// OBSCloseAuthFailed is the close code of a wrong password.
const OBSCloseAuthFailed = 4009

// OBSMessage is one obs-websocket message.
type OBSMessage struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
}

// OBSAuth is the authentication string for password, salt and challenge:
// base64(sha256(base64(sha256(password + salt)) + challenge)).
func OBSAuth(password, salt, challenge string) string {
	s := sha256.Sum256([]byte(password + salt))
	secret := base64.StdEncoding.EncodeToString(s[:])
	a := sha256.Sum256([]byte(secret + challenge))
	return base64.StdEncoding.EncodeToString(a[:])
}

func (o *obs) dial(ctx context.Context) error {
	pw, err := o.creds()
	if err != nil {
		return err
	}
	c, _, err := websocket.Dial(ctx, o.url, &websocket.DialOptions{Subprotocols: []string{OBSSubprotocol}})
	if err != nil {
		return classify("unreachable", errors.New("outputs: obs: obs-websocket could not be reached"))
	}
	c.SetReadLimit(1 << 20)
	var hello struct {
		RPCVersion     int `json:"rpcVersion"`
		Authentication *struct {
			Challenge string `json:"challenge"`
			Salt      string `json:"salt"`
		} `json:"authentication"`
	}
	if err := readOp(ctx, c, obsHello, &hello); err != nil {
		c.CloseNow()
		return err
	}
	id := map[string]any{"rpcVersion": 1, "eventSubscriptions": 0}
	if a := hello.Authentication; a != nil {
		if pw == "" {
			c.CloseNow()
			return &Permanent{Class: "auth", Err: errors.New("outputs: obs: the server wants a password and no credentials file is set")}
		}
		id["authentication"] = OBSAuth(pw, a.Salt, a.Challenge)
	}
	if err := writeOp(ctx, c, obsIdentify, id); err != nil {
		c.CloseNow()
		return err
	}
	var ided struct {
		NegotiatedRPCVersion int `json:"negotiatedRpcVersion"`
	}
	if err := readOp(ctx, c, obsIdentified, &ided); err != nil {
		c.CloseNow()
		if websocket.CloseStatus(err) == OBSCloseAuthFailed {
			return classify("auth", errors.New("outputs: obs: authentication failed"))
		}
		return err
	}
	o.conn = c
	return nil
}

func writeOp(ctx context.Context, c *websocket.Conn, op int, d any) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	m, _ := json.Marshal(OBSMessage{Op: op, D: b})
	if err := c.Write(ctx, websocket.MessageText, m); err != nil {
		return classify("unreachable", fmt.Errorf("outputs: obs: write: %w", err))
	}
	return nil
}

// readOp reads messages until one with op arrives (events are skipped).
func readOp(ctx context.Context, c *websocket.Conn, op int, into any) error {
	for range 64 {
		_, b, err := c.Read(ctx)
		if err != nil {
			if code := websocket.CloseStatus(err); code != -1 {
				return classify("closed_"+strconv.Itoa(int(code)), fmt.Errorf("outputs: obs: closed: %w", err))
			}
			return classify("unreachable", fmt.Errorf("outputs: obs: read: %w", err))
		}
		var m OBSMessage
		if json.Unmarshal(b, &m) != nil {
			return classify("protocol", errors.New("outputs: obs: a message that is not JSON"))
		}
		if m.Op == op {
			if err := json.Unmarshal(m.D, into); err != nil {
				return classify("protocol", fmt.Errorf("outputs: obs: op %d: %w", op, err))
			}
			return nil
		}
	}
	return classify("protocol", fmt.Errorf("outputs: obs: no op %d", op))
}

func (o *obs) Send(ctx context.Context, c Caption) error {
	if o.conn == nil {
		if err := o.dial(ctx); err != nil {
			return err
		}
	}
	o.n++
	reqID := "izwi-" + strconv.FormatUint(c.Seq, 10) + "-" + strconv.FormatUint(o.n, 10)
	err := writeOp(ctx, o.conn, obsRequest, map[string]any{"requestType": "SendStreamCaption", "requestId": reqID,
		"requestData": map[string]string{"captionText": strings.Join(strings.Fields(c.Text), " ")}})
	var resp struct {
		RequestID     string `json:"requestId"`
		RequestStatus struct {
			Result bool `json:"result"`
			Code   int  `json:"code"`
		} `json:"requestStatus"`
	}
	for err == nil {
		if err = readOp(ctx, o.conn, obsResponse, &resp); err == nil && resp.RequestID == reqID {
			break
		}
	}
	if err != nil {
		o.conn.CloseNow()
		o.conn = nil
		return err
	}
	if !resp.RequestStatus.Result {
		// 501 OutputNotRunning: OBS is not streaming (yet); worth a retry.
		return classify("obs_"+strconv.Itoa(resp.RequestStatus.Code), fmt.Errorf("outputs: obs: SendStreamCaption refused (%d)", resp.RequestStatus.Code))
	}
	return nil
}

func (o *obs) Close() error {
	if o.conn != nil {
		o.conn.Close(websocket.StatusNormalClosure, "")
		o.conn = nil
	}
	return nil
}
