package outputs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// youtube posts captions to a YouTube Live stream's caption ingestion URL
// (YouTube Studio: stream settings, closed captions, "POST captions to
// URL"; or the API's liveStream cdn.ingestionInfo). Each request is
//
//	POST <ingestion URL>&seq=<n>
//	Content-Type: text/plain
//
//	2026-12-07T16:05:28.123
//	the caption text
//
// with the time in UTC, milliseconds, and seq growing by one per caption
// (a retry resends the same seq, so YouTube never shows a caption twice).
// YouTube answers 200 with its own clock's time.
type youtube struct {
	client *http.Client
	creds  func() (string, error) // the ingestion URL, read at send time
	seq    uint64                 // the last seq sent
	last   uint64                 // the caption (live Seq) it carried
}

// YouTubeBody is one caption as YouTube's ingestion takes it.
func YouTubeBody(at time.Time, text string) string {
	return at.UTC().Format("2006-01-02T15:04:05.000") + "\n" + strings.Join(strings.Fields(text), " ") + "\n"
}

func (y *youtube) Send(ctx context.Context, c Caption) error {
	raw, err := y.creds()
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Permanent{Class: "credentials", Err: fmt.Errorf("%w: not an ingestion URL", ErrCredentials)}
	}
	if y.seq == 0 || c.Seq != y.last {
		y.seq, y.last = y.seq+1, c.Seq
	}
	q := u.Query()
	q.Set("seq", strconv.FormatUint(y.seq, 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(YouTubeBody(c.At, c.Text)))
	if err != nil {
		return &Permanent{Class: "credentials", Err: fmt.Errorf("outputs: youtube: %w", ErrCredentials)}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	return do(y.client, req, "youtube")
}

// do sends req (User-Agent izwi), reads at most 4 KiB of the answer and
// maps it with statusErr; a failed round trip is "unreachable".
func do(c *http.Client, req *http.Request, kind string) error {
	req.Header.Set("User-Agent", "izwi")
	resp, err := c.Do(req)
	if err != nil {
		return classify("unreachable", fmt.Errorf("outputs: %s: the server could not be reached", kind))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return statusErr(kind, resp.StatusCode)
}

func (y *youtube) Close() error { return nil }

// Count is the last seq sent; Resume carries on from n (called before
// the first Send).
func (y *youtube) Count() uint64   { return y.seq }
func (y *youtube) Resume(n uint64) { y.seq = n }

// statusErr maps an HTTP answer: 2xx is success, 408/429/5xx are worth a
// retry, other 4xx are permanent.
func statusErr(kind string, code int) error {
	class := "http_" + strconv.Itoa(code)
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return classify(class, fmt.Errorf("outputs: %s: status %d", kind, code))
	}
	return &Permanent{Class: class, Err: fmt.Errorf("outputs: %s: refused (status %d)", kind, code)}
}
