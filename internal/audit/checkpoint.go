package audit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint format (C2SP tlog-checkpoint shape, signed as a
// golang.org/x/mod/sumdb/note): the note text is
//
//	izwi/audit
//	<size: number of entries, decimal>
//	<base64 of hash(size), the chain head>
//	tree <base64 of the RFC 6962 Merkle root over the first size entries>
//	time <RFC 3339 UTC of the checkpoint>
//
// (the tree line is absent from checkpoints written before the tree existed)
//
// followed by a blank line and the signature line(s). The checkpoint file is
// a sequence of such notes, each followed by one blank line; it is only ever
// appended to (O_APPEND, one write per note, fsync).

// Origin is the first line of every checkpoint.
const Origin = "izwi/audit"

// Checkpoint is a signed statement of the log's size and head at a time.
type Checkpoint struct {
	Size int64
	Head Hash // chain head: hash(Size)
	// Tree is the Merkle root over the first Size entries (tree.go), when
	// HasTree.
	Tree    Hash
	HasTree bool
	Time    time.Time
}

// text returns the note text of c.
func (c Checkpoint) text() string {
	tree := ""
	if c.HasTree {
		tree = "tree " + base64.StdEncoding.EncodeToString(c.Tree[:]) + "\n"
	}
	return fmt.Sprintf("%s\n%d\n%s\n%stime %s\n", Origin, c.Size,
		base64.StdEncoding.EncodeToString(c.Head[:]), tree, c.Time.UTC().Format(time.RFC3339Nano))
}

// parseCheckpointText parses a note text made by text.
func parseCheckpointText(s string) (Checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) < 4 || len(lines) > 5 || lines[0] != Origin {
		return Checkpoint{}, errors.New("audit: checkpoint: not an izwi/audit checkpoint")
	}
	var tree Hash
	hasTree := len(lines) == 5
	if hasTree {
		b64, ok := strings.CutPrefix(lines[3], "tree ")
		t, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(t) != HashSize {
			return Checkpoint{}, errors.New("audit: checkpoint: bad tree line")
		}
		tree = Hash(t)
		lines = append(lines[:3], lines[4])
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, errors.New("audit: checkpoint: bad size")
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != HashSize {
		return Checkpoint{}, errors.New("audit: checkpoint: bad head hash")
	}
	ts, ok := strings.CutPrefix(lines[3], "time ")
	if !ok {
		return Checkpoint{}, errors.New("audit: checkpoint: no time line")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Checkpoint{}, errors.New("audit: checkpoint: bad time")
	}
	c := Checkpoint{Size: size, Time: t.UTC(), Tree: tree, HasTree: hasTree}
	copy(c.Head[:], h)
	return c, nil
}

// signCheckpoint returns the signed note for c.
func signCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.text()}, s)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	return msg, nil
}

// appendCheckpoint appends a signed note and a blank line to the file at
// path in one write, and syncs it.
func appendCheckpoint(path string, signed []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("audit: checkpoint dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: checkpoint file: %w", err)
	}
	rec := append(append([]byte{}, signed...), '\n')
	if torn, err := tornTail(path); err != nil {
		f.Close()
		return err
	} else if torn {
		// A crash cut the last write short: start on a fresh line after a
		// blank one so readers resynchronise here (verify still reports the
		// torn region).
		rec = append([]byte("\n\n"), rec...)
	}
	if _, err := f.Write(rec); err != nil {
		f.Close()
		return fmt.Errorf("audit: write checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: sync checkpoint: %w", err)
	}
	return f.Close()
}

// tornTail reports whether the file at path is non-empty and does not end
// with the blank line that follows every complete note.
func tornTail(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("audit: checkpoint file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false, err
	}
	tail := make([]byte, min(st.Size(), 2))
	if _, err := f.ReadAt(tail, st.Size()-int64(len(tail))); err != nil {
		return false, fmt.Errorf("audit: checkpoint file: %w", err)
	}
	return string(tail) != "\n\n", nil
}

// SignedNote is one note as found in a checkpoint file, not yet verified.
type SignedNote struct {
	Index int    // 1-based position in the file
	Line  int    // line of the file where it starts
	Msg   []byte // the whole note: text, blank line, signatures
}

// maxNotes bounds how many notes SplitNotes returns (a year of 5-minute
// checkpoints is ~105,000).
const maxNotes = 10_000_000

// SplitNotes splits a checkpoint file into its notes. A note is text lines,
// one blank line, one or more signature lines ("— name sig"), then a blank
// line (or the end of the file). Malformed regions (a torn write after a
// crash, an edit) are reported in the error, naming their lines, and
// skipped up to the next note, so one bad region cannot hide the good
// checkpoints after it.
func SplitNotes(b []byte) ([]SignedNote, error) {
	notes, errs := splitNotes(b)
	return notes, errors.Join(errs...)
}

func splitNotes(b []byte) ([]SignedNote, []error) {
	var out []SignedNote
	var errs []error
	line := 1
	for len(b) > 0 {
		if b[0] == '\n' { // tolerate extra blank lines between notes
			b, line = b[1:], line+1
			continue
		}
		n, lines, err := noteLen(b, line)
		if err != nil {
			errs = append(errs, err)
			// Resynchronise at the next note's origin line after a blank line.
			next := bytes.Index(b[1:], []byte("\n\n"+Origin+"\n"))
			if next < 0 {
				break
			}
			skip := 1 + next + 2
			line += bytes.Count(b[:skip], []byte("\n"))
			b = b[skip:]
			continue
		}
		if len(out) >= maxNotes {
			errs = append(errs, fmt.Errorf("audit: checkpoint file: more than %d notes", maxNotes))
			break
		}
		out = append(out, SignedNote{Index: len(out) + 1, Line: line, Msg: b[:n]})
		line += lines
		if n < len(b) { // the blank separator line
			n++
			line++
		}
		b = b[n:]
	}
	return out, errs
}

// noteLen returns the length of the note at the start of b and its line
// count; start is b's first line number, for errors.
func noteLen(b []byte, start int) (int, int, error) {
	end := bytes.Index(b, []byte("\n\n"))
	if end < 0 {
		return 0, 0, fmt.Errorf("audit: checkpoint file line %d: note without signatures", start)
	}
	n := end + 2
	lines := bytes.Count(b[:n], []byte("\n"))
	sigs := 0
	for n < len(b) && b[n] != '\n' {
		eol := bytes.IndexByte(b[n:], '\n')
		if eol < 0 {
			return 0, 0, fmt.Errorf("audit: checkpoint file line %d: unterminated line", start+lines)
		}
		if !bytes.HasPrefix(b[n:], []byte("— ")) {
			return 0, 0, fmt.Errorf("audit: checkpoint file line %d: want a signature line", start+lines)
		}
		n += eol + 1
		lines++
		sigs++
	}
	if sigs == 0 {
		return 0, 0, fmt.Errorf("audit: checkpoint file line %d: note without signatures", start+lines)
	}
	return n, lines, nil
}

// OpenCheckpoint verifies a note's signature with verifierKey and parses it.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint signature: %w", err)
	}
	return parseCheckpointText(n.Text)
}

// ReadCheckpoints reads the checkpoint file at path; a missing file is empty.
func ReadCheckpoints(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint file: %w", err)
	}
	return b, nil
}
