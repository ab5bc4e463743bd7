package audit

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

func testSigner(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, SignerName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestCheckpointRoundTrip(t *testing.T) {
	s, v := testSigner(t)
	cp := Checkpoint{Size: 12, Head: ChainHash(Genesis(), []byte("x")), Tree: ChainHash(Genesis(), []byte("t")), HasTree: true,
		Time: time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)}
	var file []byte
	for i := range 3 {
		c := cp
		c.Size += int64(i)
		msg, err := signCheckpoint(c, s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(msg, []byte("izwi/audit\n")) {
			t.Fatalf("checkpoint does not start with its origin: %q", msg)
		}
		file = append(append(file, msg...), '\n')
	}
	notes, err := SplitNotes(file)
	if err != nil || len(notes) != 3 {
		t.Fatalf("%d notes, %v", len(notes), err)
	}
	for i, n := range notes {
		got, err := OpenCheckpoint(n.Msg, v)
		if err != nil || got.Size != cp.Size+int64(i) || got.Head != cp.Head || !got.HasTree || got.Tree != cp.Tree || !got.Time.Equal(cp.Time) {
			t.Fatalf("note %d: %+v, %v", i, got, err)
		}
		if n.Index != i+1 || n.Line != 1+i*8 {
			t.Fatalf("note %d at index %d line %d", i, n.Index, n.Line)
		}
	}
}

func TestParseCheckpointTextRejects(t *testing.T) {
	head := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	// Both shapes parse: with the tree line and (older) without it.
	for _, good := range []string{"izwi/audit\n1\n" + head + "\ntime 2026-01-01T00:00:00Z\n",
		"izwi/audit\n1\n" + head + "\ntree " + head + "\ntime 2026-01-01T00:00:00Z\n"} {
		if _, err := parseCheckpointText(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{
		"other/log\n1\n" + head + "\ntime 2026-01-01T00:00:00Z\n",
		"izwi/audit\n-1\n" + head + "\ntime 2026-01-01T00:00:00Z\n",
		"izwi/audit\n01\n" + head + "\ntime 2026-01-01T00:00:00Z\n",
		"izwi/audit\n1\nAAAA\ntime 2026-01-01T00:00:00Z\n",
		"izwi/audit\n1\n" + head + "\nwhen 2026\n",
		"izwi/audit\n1\n" + head + "\n",
		"izwi/audit\n1\n" + head + "\ntree AAAA\ntime 2026-01-01T00:00:00Z\n",
		"izwi/audit\n1\n" + head + "\nroot " + head + "\ntime 2026-01-01T00:00:00Z\n",
	} {
		if _, err := parseCheckpointText(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzSplitNotes: the checkpoint-file parser never panics, returns notes
// that are contiguous pieces of its input, and each note it returns has the
// shape note.Open expects (text, blank line, signature lines).
func FuzzSplitNotes(f *testing.F) {
	s, _ := testSigner(f)
	msg, _ := signCheckpoint(Checkpoint{Size: 3, Time: time.Unix(0, 0)}, s)
	f.Add(append(append(append([]byte{}, msg...), '\n'), msg...))
	f.Add([]byte("izwi/audit\n9\n"))
	f.Add([]byte("\n\n— x y\n\n\n"))
	f.Add([]byte("a\n\nb\n"))
	f.Add(append([]byte("\n\n\n"), msg...))
	f.Fuzz(func(t *testing.T, b []byte) {
		notes, err := SplitNotes(b)
		rest := b
		for _, n := range notes {
			rest = bytes.Replace(rest, n.Msg, nil, 1)
			if !bytes.Contains(b, n.Msg) {
				t.Fatal("note is not part of the input")
			}
			text, sigs, ok := strings.Cut(string(n.Msg), "\n\n")
			if !ok || sigs == "" || !strings.HasSuffix(sigs, "\n") || strings.Contains(text, "\n\n") {
				t.Fatalf("malformed note returned: %q", n.Msg)
			}
		}
		if err == nil && len(bytes.Trim(rest, "\n")) > 0 {
			t.Fatalf("bytes outside any note without an error: %q", rest)
		}
	})
}

// FuzzParseCheckpointText: the checkpoint body parser never panics, and
// what it accepts survives a render and re-parse unchanged.
func FuzzParseCheckpointText(f *testing.F) {
	head := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	f.Add("izwi/audit\n1\n" + head + "\ntime 2026-01-01T00:00:00Z\n")
	f.Add("izwi/audit\n7\n" + head + "\ntree " + head + "\ntime 2026-01-01T00:00:00.5+02:00\n")
	f.Add("izwi/audit\n\n\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		cp, err := parseCheckpointText(s)
		if err != nil {
			return
		}
		again, err := parseCheckpointText(cp.text())
		if err != nil || again.Size != cp.Size || again.Head != cp.Head || again.Tree != cp.Tree ||
			again.HasTree != cp.HasTree || !again.Time.Equal(cp.Time) {
			t.Fatalf("%q re-rendered as %q: %+v, %v", s, cp.text(), again, err)
		}
	})
}
