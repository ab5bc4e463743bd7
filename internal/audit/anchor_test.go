package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// witnessServer is an external witness on a real TLS listener: it keeps
// every checkpoint POSTed to it, as a file of notes.
type witnessServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	file bytes.Buffer
}

func newWitnessServer(t *testing.T) *witnessServer {
	ws := &witnessServer{}
	ws.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		ws.mu.Lock()
		ws.file.Write(b)
		ws.file.WriteByte('\n')
		ws.mu.Unlock()
	}))
	t.Cleanup(ws.srv.Close)
	return ws
}

func (ws *witnessServer) notes() []byte {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return bytes.Clone(ws.file.Bytes())
}

// anchoredLog writes six entries (audit.start and five more), each
// anchored as the default checkpoint_every = 1 does, sent to a witness
// too, and closes the log as a clean stop does.
func anchoredLog(t *testing.T) (*testEnv, string, *witnessServer) {
	t.Helper()
	e := newEnv(t)
	ws := newWitnessServer(t)
	w, err := NewWitness(ws.srv.URL, ws.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l := e.open(t, func(o *Options) { o.CheckpointEvery, o.Witness = 1, w })
	e.record(t, l, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Sent != 6 || st.Failed != 0 {
		t.Fatalf("witness: %+v, want 6 checkpoints sent", st)
	}
	return e, l.VerifierKey(), ws
}

func verifyWith(t *testing.T, e *testEnv, checkpoints []byte, vkey string) (Report, error) {
	t.Helper()
	return Verify(context.Background(), e.db(), checkpoints, vkey)
}

// The review's four rewrites of an audit log, each of which `izwi audit
// verify` accepted and the next `izwi serve` signed over.
func TestAnchoring(t *testing.T) {
	t.Run("checkpoint file deleted or emptied", func(t *testing.T) {
		for _, empty := range []bool{false, true} {
			e, vkey, _ := anchoredLog(t)
			path := e.opts().CheckpointPath
			if empty {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			raw, _ := ReadCheckpoints(path)
			rep, err := verifyWith(t, e, raw, vkey)
			if !errors.Is(err, ErrTampered) || rep.Problem == nil || rep.Problem.Kind != KindNoCheckpoints {
				t.Errorf("empty=%v: verify %+v, %v; want a failure for the missing checkpoints", empty, rep.Problem, err)
			}
			if !rep.OKAccepting(KindNoCheckpoints) {
				t.Errorf("empty=%v: the explicit flag cannot accept it", empty)
			}
			if _, err := New(context.Background(), e.db(), e.opts()); err == nil {
				t.Errorf("empty=%v: the server extended a log no checkpoint vouches for", empty)
			}
		}
	})
	t.Run("edited and rechained, checkpoints deleted", func(t *testing.T) {
		e, vkey, ws := anchoredLog(t)
		en := readEntries(t, e)
		en[2].Event.Actor = "user:mallory"
		rewriteChain(t, e, en)
		if err := os.Remove(e.opts().CheckpointPath); err != nil {
			t.Fatal(err)
		}
		if _, err := verifyWith(t, e, nil, vkey); !errors.Is(err, ErrTampered) {
			t.Errorf("verify without checkpoints: %v", err)
		}
		if rep, err := verifyWith(t, e, ws.notes(), vkey); !errors.Is(err, ErrTampered) || rep.Problem == nil || rep.Problem.Seq != 3 {
			t.Errorf("verify against the witness: %+v, %v; want entry 3", rep.Problem, err)
		}
		if _, err := New(context.Background(), e.db(), e.opts()); err == nil {
			t.Error("the server extended a rewritten log")
		}
	})
	t.Run("tail entry and its checkpoint deleted", func(t *testing.T) {
		e, vkey, ws := anchoredLog(t)
		en := readEntries(t, e)
		rewriteChain(t, e, en[:len(en)-1])
		path := e.opts().CheckpointPath
		raw, _ := ReadCheckpoints(path)
		notes, err := SplitNotes(raw)
		if err != nil {
			t.Fatal(err)
		}
		var kept []byte
		for _, n := range notes[:len(notes)-1] {
			kept = append(append(kept, n.Msg...), '\n')
		}
		if err := os.WriteFile(path, kept, 0o600); err != nil {
			t.Fatal(err)
		}
		// The local file now agrees with the cut log; the copy off the
		// machine does not.
		rep, err := verifyWith(t, e, ws.notes(), vkey)
		if !errors.Is(err, ErrTampered) || rep.Problem == nil || rep.Problem.Seq != int64(len(en)) || !strings.Contains(rep.Problem.What, "truncated") {
			t.Errorf("verify against the witness: %+v, %v; want entry %d missing", rep.Problem, err, len(en))
		}
	})
	t.Run("forged entry appended", func(t *testing.T) {
		e, vkey, _ := anchoredLog(t)
		var prev []byte
		var when time.Time
		en := readEntries(t, e)
		if err := e.db().QueryRowContext(context.Background(), "SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&prev); err != nil {
			t.Fatal(err)
		}
		when = en[len(en)-1].Event.Time.Add(time.Second)
		entry, hash := forgedRow(t, int64(len(en)+1), prev, when)
		if _, err := e.db().ExecContext(context.Background(), "INSERT INTO audit_log(seq, entry, prev, hash) VALUES(?,?,?,?)", len(en)+1, entry, prev, hash); err != nil {
			t.Fatal(err)
		}
		raw, _ := ReadCheckpoints(e.opts().CheckpointPath)
		rep, err := verifyWith(t, e, raw, vkey)
		if !errors.Is(err, ErrTampered) || rep.Problem == nil || rep.Problem.Kind != KindUnanchored || rep.Problem.Seq != int64(len(en)+1) {
			t.Errorf("verify: %+v, %v; want entry %d unanchored", rep.Problem, err, len(en)+1)
		}
		if _, err := New(context.Background(), e.db(), e.opts()); err == nil || !strings.Contains(err.Error(), "not covered by a signed checkpoint") {
			t.Errorf("the server extended a log with a forged tail: %v", err)
		}
		o := e.opts()
		o.AcceptUnanchored, o.NoStartEntry = true, true
		l, err := New(context.Background(), e.db(), o)
		if err != nil {
			t.Fatalf("accepting explicitly: %v", err)
		}
		l.Close()
	})
}

func TestWitnessURL(t *testing.T) {
	for _, u := range []string{"http://witness.example/cp", "ftp://x/", "https://user:pw@witness.example/", "not a url"} {
		if _, err := NewWitness(u, nil, nil); err == nil {
			t.Errorf("NewWitness(%q) accepted", u)
		}
	}
	w, err := NewWitness("http://127.0.0.1:1/cp", nil, nil)
	if err != nil {
		t.Fatalf("a loopback relay over http: %v", err)
	}
	w.Close(context.Background())
}

// An entry appended inside a caller's transaction is anchored shortly
// after the commit, so another writer (an `izwi keys` run beside the
// server) does not find an unanchored tail.
func TestRecordTxIsAnchoredAfterCommit(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.CheckpointEvery = 1 })
	err := e.st.Tx(context.Background(), func(tx *store.Tx) error {
		return l.RecordTx(context.Background(), tx, Event{Actor: "user:u1", Action: "key.revoke", Outcome: OutcomeOK})
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw, _ := ReadCheckpoints(e.opts().CheckpointPath)
		rep, err := Verify(context.Background(), e.db(), raw, l.VerifierKey())
		if err == nil && rep.Covered == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the RecordTx entry was not anchored: %+v, %v", rep.Problem, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l2, err := New(context.Background(), e.db(), e.opts())
	if err != nil {
		t.Fatalf("a second writer: %v", err)
	}
	l2.Close()
}
