package livehttp

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
)

// FuzzParseControl: any text message parses to a known type or is refused
// with one of the two documented errors; never a panic.
func FuzzParseControl(f *testing.F) {
	for _, s := range []string{`{"type":"config","encoding":"linear16","sample_rate":16000,"channels":1}`,
		`{"type":"finalize"}`, `{"type":"KeepAlive"}`, `{"type":"CloseStream"}`, `{"type":"close","channels":2}`,
		`{"type":"config","sample_rate":1e400}`, `{"type":"x"}`, `{}`, `[]`, `null`, `{"type":"finalize"} {}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseControl(b)
		if err != nil {
			if !errors.Is(err, errControl) && !errors.Is(err, errUnknown) {
				t.Fatalf("error %v is neither errControl nor errUnknown", err)
			}
			return
		}
		switch c.Type {
		case ctlConfig:
			if _, err := parseFormat(c.Encoding, c.SampleRate, c.Channels); err != nil && !errors.Is(err, audio.ErrUnsupported) {
				t.Fatalf("config %+v: %v", c, err)
			}
		case ctlFinalize, ctlKeepAlive, ctlClose:
			if c.Encoding != "" || c.SampleRate != 0 || c.Channels != 0 {
				t.Fatalf("format fields on %+v", c)
			}
		default:
			t.Fatalf("accepted type %q", c.Type)
		}
	})
}

// FuzzFormatFromQuery: a declared format is within the live bounds or
// refused as unsupported.
func FuzzFormatFromQuery(f *testing.F) {
	for _, s := range []string{"encoding=linear16&sample_rate=16000&channels=1", "sample_rate=96000", "channels=3",
		"encoding=opus", "rate=8000", "encoding=mulaw&sample_rate=8000", "sample_rate=-1", "sample_rate=99999999999999999999",
		"encoding=float32&channels=2&sample_rate=48000", "", "encoding=&sample_rate=", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fm, err := formatFromQuery(q)
		switch {
		case errors.Is(err, errNoFormat), errors.Is(err, audio.ErrUnsupported):
			return
		case err != nil:
			t.Fatalf("%q: %v", raw, err)
		}
		if fm.SampleRate < audio.MinLiveRate || fm.SampleRate > audio.MaxLiveRate || fm.Channels < 1 || fm.Channels > audio.MaxLiveChannels || fm.FrameSize() == 0 {
			t.Fatalf("%q accepted as %+v", raw, fm)
		}
	})
}

// FuzzIngest sends arbitrary message sequences over a real ingest socket:
// the server answers every one with a close code (or keeps reading), never
// hangs or panics, and the session is detached afterwards.
func FuzzIngest(f *testing.F) {
	f.Add("?sample_rate=16000", []byte{0, 1, 2, 3}, true, `{"type":"finalize"}`)
	f.Add("", []byte{1, 2, 3}, false, `{"type":"config","sample_rate":8000,"channels":2}`)
	f.Add("?encoding=mulaw&sample_rate=8000", []byte{0xff}, true, `{"type":"close"}`)
	f.Add("?encoding=float32&sample_rate=48000&channels=2", make([]byte, 13), false, `{"type":"keepalive"}`)
	f.Add("?channels=0", []byte{}, true, "\xff")
	hs := newHarness(f, harnessOpts{mutate: func(o *Options) { o.IngestIdle = time.Second }})
	f.Fuzz(func(t *testing.T, query string, frame []byte, binaryFirst bool, text string) {
		hs.t = t
		s := hs.create("alice", map[string]any{"start": true})
		defer hs.fake.Delete(t.Context(), "", s.ID)
		if q, err := url.ParseQuery(strings.TrimPrefix(query, "?")); err == nil && len(q) > 0 {
			query = "?" + q.Encode()
		} else {
			query = ""
		}
		c, resp, err := hs.dial("/v1/sessions/"+s.ID+"/audio"+query, bearer("alice"))
		if err != nil {
			if resp != nil && resp.StatusCode < 500 {
				return
			}
			t.Fatalf("dial: %v %v", err, resp)
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		msgs := []struct {
			typ websocket.MessageType
			b   []byte
		}{{websocket.MessageText, []byte(text)}, {websocket.MessageBinary, frame}}
		if binaryFirst {
			msgs[0], msgs[1] = msgs[1], msgs[0]
		}
		for _, m := range msgs {
			if c.Write(t.Context(), m.typ, m.b) != nil {
				break
			}
		}
		_ = c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"close"}`))
		closeOf(t, c)
		waitFor(t, "detach", func() bool { _, _, _, a := hs.fake.stats(s.ID); return !a })
	})
}
