package outputs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// webhook posts each caption as JSON, signed: the headers
//
//	X-Izwi-Timestamp: <unix seconds>
//	X-Izwi-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>
//
// let the receiver check it came from Izwi and is fresh.
type webhook struct {
	client *http.Client
	url    string
	creds  func() (string, error) // the HMAC key
	now    func() time.Time
}

// WebhookBody is what a webhook receives.
type WebhookBody struct {
	SessionID string    `json:"session_id"`
	Seq       uint64    `json:"seq"`
	Segment   int       `json:"segment"`
	Lang      string    `json:"lang,omitempty"`
	Text      string    `json:"text"`
	Start     float64   `json:"start"`
	End       float64   `json:"end"`
	Time      time.Time `json:"time"`
}

// WebhookSignature is the X-Izwi-Signature value of body sent at ts.
func WebhookSignature(key, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *webhook) Send(ctx context.Context, c Caption) error {
	key, err := w.creds()
	if err != nil {
		return err
	}
	if key == "" {
		return &Permanent{Class: "credentials", Err: errors.New("outputs: webhook: no HMAC key")}
	}
	body, _ := json.Marshal(WebhookBody{SessionID: c.SessionID, Seq: c.Seq, Segment: c.Segment, Lang: c.Lang, Text: c.Text,
		Start: c.Start, End: c.End, Time: c.At})
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &Permanent{Class: "config", Err: fmt.Errorf("outputs: webhook: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Izwi-Timestamp", ts)
	req.Header.Set("X-Izwi-Signature", WebhookSignature(key, ts, body))
	return do(w.client, req, "webhook")
}

func (w *webhook) Close() error { return nil }
