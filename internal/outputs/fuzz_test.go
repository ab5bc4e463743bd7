package outputs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// FuzzOBSServer: whatever an obs-websocket server answers to the
// handshake and to a caption request, the client returns (an error or
// success) within its deadline, without panicking.
func FuzzOBSServer(f *testing.F) {
	f.Add([]byte(`{"op":0,"d":{"rpcVersion":1}}`), []byte(`{"op":2,"d":{"negotiatedRpcVersion":1}}`),
		[]byte(`{"op":7,"d":{"requestId":"izwi-1-1","requestStatus":{"result":true,"code":100}}}`))
	f.Add([]byte(`{"op":0,"d":{"authentication":{"challenge":"c","salt":"s"}}}`), []byte(`{"op":2}`), []byte(`{}`))
	f.Add([]byte(`not json`), []byte(`{"op":2,"d":[]}`), []byte(`{"op":7,"d":null}`))
	f.Fuzz(func(t *testing.T, hello, identified, response []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{OBSSubprotocol}})
			if err != nil {
				return
			}
			defer c.CloseNow()
			ctx := r.Context()
			for _, m := range [][]byte{hello, identified, response} {
				if c.Write(ctx, websocket.MessageText, m) != nil {
					return
				}
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}))
		defer srv.Close()
		o := &obs{url: "ws" + strings.TrimPrefix(srv.URL, "http"), creds: func() (string, error) { return "pw", nil }}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.Send(ctx, Caption{Seq: 1, Text: "hello"})
		if ctx.Err() != nil {
			t.Fatal("the client did not return within its deadline")
		}
		if o.conn != nil {
			o.conn.CloseNow()
		}
	})
}
