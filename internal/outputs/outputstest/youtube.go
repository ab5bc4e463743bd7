// Package outputstest owns wire-true doubles of the services caption
// outputs push to: YouTube Live's caption ingestion (HTTP POST, cid and
// seq in the query, "timestamp\ntext\n" bodies, 200 with the server's
// time) and OBS's obs-websocket v5 (Hello/Identify with the salted SHA-256
// challenge, close 4009 on a wrong password, SendStreamCaption answered
// with a RequestResponse, 501 when OBS is not streaming). Both can be
// taken down and brought back to test outages. Only tests import it.
package outputstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// YouTubeCaption is one caption the double accepted.
type YouTubeCaption struct {
	Seq  uint64
	Time time.Time
	Text string
}

// YouTube is a caption-ingestion double at /closedcaption?cid=<CID>.
type YouTube struct {
	*httptest.Server
	CID string

	mu       sync.Mutex
	down     int // answer this many more requests with 503
	captions []YouTubeCaption
	lastSeq  uint64
	problems []string
}

// NewYouTube starts the double for stream key cid.
func NewYouTube(cid string) *YouTube {
	y := &YouTube{CID: cid}
	y.Server = httptest.NewServer(http.HandlerFunc(y.serve))
	return y
}

// IngestionURL is what YouTube Studio shows as the captions URL.
func (y *YouTube) IngestionURL() string { return y.URL + "/closedcaption?cid=" + y.CID }

// Fail answers the next n requests with 503 (an outage).
func (y *YouTube) Fail(n int) {
	y.mu.Lock()
	y.down = n
	y.mu.Unlock()
}

// Captions returns what was accepted, in order.
func (y *YouTube) Captions() []YouTubeCaption {
	y.mu.Lock()
	defer y.mu.Unlock()
	return append([]YouTubeCaption(nil), y.captions...)
}

// Problems lists protocol violations seen (wrong method, seq, body ...).
func (y *YouTube) Problems() []string {
	y.mu.Lock()
	defer y.mu.Unlock()
	return append([]string(nil), y.problems...)
}

var stampLine = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})( region:\S+#\S+)?$`)

func (y *YouTube) serve(w http.ResponseWriter, r *http.Request) {
	y.mu.Lock()
	defer y.mu.Unlock()
	bad := func(code int, why string) {
		y.problems = append(y.problems, why)
		http.Error(w, why, code)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/closedcaption" {
		bad(http.StatusNotFound, "not POST /closedcaption")
		return
	}
	if r.URL.Query().Get("cid") != y.CID {
		bad(http.StatusForbidden, "wrong cid")
		return
	}
	if y.down > 0 {
		y.down--
		http.Error(w, "backend error", http.StatusServiceUnavailable)
		return
	}
	seq, err := strconv.ParseUint(r.URL.Query().Get("seq"), 10, 64)
	if err != nil || seq == 0 {
		bad(http.StatusBadRequest, "missing seq")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		bad(http.StatusBadRequest, "content type "+r.Header.Get("Content-Type"))
		return
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	m := stampLine.FindStringSubmatch(lines[0])
	if len(lines) < 2 || m == nil {
		bad(http.StatusBadRequest, "body is not timestamp and text lines")
		return
	}
	at, err := time.Parse("2006-01-02T15:04:05.000", m[1])
	if err != nil {
		bad(http.StatusBadRequest, "bad timestamp")
		return
	}
	switch {
	case seq == y.lastSeq: // a retry of a caption already shown: not shown twice
	case seq < y.lastSeq:
		bad(http.StatusBadRequest, "seq went back")
		return
	default:
		y.lastSeq = seq
		y.captions = append(y.captions, YouTubeCaption{Seq: seq, Time: at, Text: strings.Join(lines[1:], "\n")})
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, time.Now().UTC().Format("2006-01-02T15:04:05.000")+"\n")
}
