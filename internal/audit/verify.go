package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
	"golang.org/x/mod/sumdb/note"
)

// ErrTampered marks a log or checkpoint file that fails verification.
var ErrTampered = errors.New("audit: verification failed")

// Problem is one thing verification found wrong.
type Problem struct {
	// Seq is the first entry position that is wrong (for a truncated log,
	// the first missing one); 0 when the problem is a checkpoint's own.
	Seq int64
	// Checkpoint is the 1-based index of the checkpoint involved, if any.
	Checkpoint int
	What       string
	// Kind is empty for tampering; KindNoCheckpoints and KindUnanchored
	// name a log nothing signed vouches for (all of it, or its tail),
	// which an operator may accept explicitly.
	Kind string `json:",omitempty"`
}

// Problem kinds an operator may accept explicitly (izwi audit verify
// --allow-no-checkpoints, --allow-unanchored-tail).
const (
	KindNoCheckpoints = "no_checkpoints"
	KindUnanchored    = "unanchored_tail"
)

func (p Problem) String() string {
	switch {
	case p.Seq > 0 && p.Checkpoint > 0:
		return fmt.Sprintf("entry %d (checkpoint %d): %s", p.Seq, p.Checkpoint, p.What)
	case p.Seq > 0:
		return fmt.Sprintf("entry %d: %s", p.Seq, p.What)
	case p.Checkpoint > 0:
		return fmt.Sprintf("checkpoint %d: %s", p.Checkpoint, p.What)
	default:
		return p.What
	}
}

// Report is what Verify found.
type Report struct {
	// Entries is how many rows the log holds.
	Entries int64
	// Verified is the end of the verified range 1..Verified: every entry up
	// to it is canonical, correctly chained from Genesis, gap-free, in time
	// order and agrees with every valid checkpoint at or below it.
	Verified int64
	// Head is hash(Verified).
	Head Hash
	// Checkpoints counts valid checkpoints; Covered is the largest size
	// among them (the log must be at least that long).
	Checkpoints int
	Covered     int64
	// Problem is the first bad entry; nil when the chain is sound.
	Problem *Problem
	// BadCheckpoints are checkpoints that are malformed, forged (signature
	// does not verify) or not ours.
	BadCheckpoints []Problem
	// LongestSilence is the longest time between two entries where the
	// later one is not a restart ("audit.start"), and the seq it ended at:
	// with heartbeats on, a silence much longer than the heartbeat interval
	// is suspicious.
	LongestSilence   time.Duration
	LongestSilenceAt int64
}

// OK reports whether nothing is wrong.
func (r Report) OK() bool { return r.Problem == nil && len(r.BadCheckpoints) == 0 }

// OKAccepting reports whether nothing is wrong but, at most, a problem of
// one of the kinds the operator accepts explicitly.
func (r Report) OKAccepting(kinds ...string) bool {
	if len(r.BadCheckpoints) > 0 {
		return false
	}
	if r.Problem == nil {
		return true
	}
	for _, k := range kinds {
		if r.Problem.Kind != "" && r.Problem.Kind == k {
			return true
		}
	}
	return false
}

// First returns the first problem to show (the chain's before checkpoints').
func (r Report) First() (Problem, bool) {
	if r.Problem != nil {
		return *r.Problem, true
	}
	if len(r.BadCheckpoints) > 0 {
		return r.BadCheckpoints[0], true
	}
	return Problem{}, false
}

// Verify recomputes the chain in db from Genesis and checks it against the
// signed checkpoints (the raw checkpoint file) under verifierKey. It returns
// an error wrapping ErrTampered when anything is wrong, alongside the
// report; other errors mean verification could not run.
func Verify(ctx context.Context, db *store.Store, checkpoints []byte, verifierKey string) (Report, error) {
	rows, err := db.QueryContext(ctx, "SELECT seq, entry, prev, hash FROM audit_log ORDER BY seq")
	if err != nil {
		return Report{}, fmt.Errorf("audit: read log: %w", err)
	}
	defer rows.Close()
	return verify(ctx, checkpoints, verifierKey, func() (row, bool, error) {
		if !rows.Next() {
			return row{}, false, rows.Err()
		}
		var r row
		err := rows.Scan(&r.seq, &r.entry, &r.prev, &r.hash)
		return r, err == nil, err
	})
}

// row is one stored entry as read, before any check.
type row struct {
	seq               int64
	entry, prev, hash []byte
}

// verify is Verify over any source of rows in seq order; next returns
// false at the end (with an error if reading failed).
func verify(ctx context.Context, checkpoints []byte, verifierKey string, next func() (row, bool, error)) (Report, error) {
	var rep Report
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return rep, fmt.Errorf("audit: verifier key: %w", err)
	}
	cps := map[int64]Hash{}    // size → head, from valid checkpoints
	trees := map[int64]Hash{}  // size → Merkle root, from those that carry one
	cpIndex := map[int64]int{} // size → index of the first checkpoint naming it
	notes, splitErrs := splitNotes(checkpoints)
	for _, n := range notes {
		cp, err := OpenCheckpoint(n.Msg, v)
		if err != nil {
			rep.BadCheckpoints = append(rep.BadCheckpoints, Problem{Checkpoint: n.Index,
				What: fmt.Sprintf("line %d: %v", n.Line, err)})
			continue
		}
		t, seen := trees[cp.Size]
		if h, ok := cps[cp.Size]; ok && h != cp.Head || seen && cp.HasTree && t != cp.Tree {
			rep.BadCheckpoints = append(rep.BadCheckpoints, Problem{Checkpoint: n.Index,
				What: fmt.Sprintf("two validly signed checkpoints disagree about entry %d (the signer key may be compromised)", cp.Size)})
			continue
		}
		cps[cp.Size] = cp.Head
		if cp.HasTree {
			trees[cp.Size] = cp.Tree
		}
		if _, ok := cpIndex[cp.Size]; !ok {
			cpIndex[cp.Size] = n.Index
		}
		rep.Checkpoints++
		rep.Covered = max(rep.Covered, cp.Size)
	}
	for _, err := range splitErrs {
		rep.BadCheckpoints = append(rep.BadCheckpoints, Problem{What: err.Error()})
	}
	if h, ok := cps[0]; ok && h != Genesis() {
		rep.BadCheckpoints = append(rep.BadCheckpoints, Problem{Checkpoint: cpIndex[0], What: "size 0 with a head other than genesis"})
	}

	head, want := Genesis(), int64(1)
	var tree frontier
	var last time.Time
	fail := func(seq int64, format string, args ...any) {
		rep.Problem = &Problem{Seq: seq, What: fmt.Sprintf(format, args...)}
	}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r, ok, err := next()
		if err != nil {
			return rep, fmt.Errorf("audit: read log: %w", err)
		}
		if !ok {
			break
		}
		seq, entry, prev, hash := r.seq, r.entry, r.prev, r.hash
		rep.Entries++
		if rep.Problem != nil {
			continue // count the rest
		}
		if seq != want {
			if seq > want {
				fail(want, "missing (the next stored entry is %d): deleted", seq)
			} else {
				fail(seq, "unexpected sequence number (want %d)", want)
			}
			continue
		}
		e, err := Decode(entry)
		if err != nil {
			fail(seq, "entry does not decode canonically (edited): %v", err)
			continue
		}
		if e.Seq != seq {
			fail(seq, "entry says it is %d but is stored at %d (reordered, moved or inserted)", e.Seq, seq)
			continue
		}
		if !bytes.Equal(prev, head[:]) {
			fail(seq, "does not link to entry %d (an entry before it was changed, removed or inserted)", seq-1)
			continue
		}
		h := ChainHash(head, entry)
		if !bytes.Equal(hash, h[:]) {
			fail(seq, "content does not match its hash (edited)")
			continue
		}
		if e.Event.Time.Before(last) {
			fail(seq, "time %s is before the previous entry's %s", e.Event.Time.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
			continue
		}
		if cp, ok := cps[seq]; ok && cp != h {
			rep.Problem = &Problem{Seq: seq, Checkpoint: cpIndex[seq],
				What: "differs from the signed checkpoint (the log was rewritten at or before this entry)"}
			continue
		}
		tree.add(entry)
		if root, ok := trees[seq]; ok && tree.root() != root {
			rep.Problem = &Problem{Seq: seq, Checkpoint: cpIndex[seq],
				What: "the Merkle root differs from the signed checkpoint (the log was rewritten at or before this entry)"}
			continue
		}
		if !last.IsZero() && e.Event.Action != "audit.start" {
			if gap := e.Event.Time.Sub(last); gap > rep.LongestSilence {
				rep.LongestSilence, rep.LongestSilenceAt = gap, seq
			}
		}
		last, head, want = e.Event.Time, h, seq+1
		rep.Verified, rep.Head = seq, h
	}
	switch {
	case rep.Problem != nil:
	case rep.Covered > rep.Verified:
		rep.Problem = &Problem{Seq: rep.Verified + 1, Checkpoint: cpIndex[rep.Covered],
			What: fmt.Sprintf("missing: the log ends at %d but a signed checkpoint covers %d (tail truncated)", rep.Verified, rep.Covered)}
	case rep.Verified > 0 && rep.Checkpoints == 0:
		// Deleting or emptying the checkpoint file must not turn a
		// rewritten log into a verified one.
		rep.Problem = &Problem{Seq: 1, Kind: KindNoCheckpoints,
			What: "no valid signed checkpoint: the checkpoint file is missing, empty or signed by another key, so nothing anchors the log (a rewritten or cut log would look whole)"}
	case rep.Verified > rep.Covered:
		// A forged entry appended after the last checkpoint chains
		// correctly; only a checkpoint can vouch for it.
		rep.Problem = &Problem{Seq: rep.Covered + 1, Kind: KindUnanchored,
			What: fmt.Sprintf("entries %d..%d are not covered by a signed checkpoint (appended after the last one: forged, or written by a server still running or stopped by a crash)",
				rep.Covered+1, rep.Verified)}
	}
	if p, bad := rep.First(); bad {
		return rep, fmt.Errorf("%w: %s", ErrTampered, p)
	}
	return rep, nil
}
