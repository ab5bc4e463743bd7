package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/izwi-speech/izwi/internal/store"
	"golang.org/x/mod/sumdb/tlog"
)

// Beside the hash chain, the entries form an RFC 6962 Merkle tree
// (golang.org/x/mod/sumdb/tlog: leaf i = RecordHash(canonical entry i+1)).
// Checkpoints carry its root, so a third party holding a checkpoint can
// check that one entry is in the log (ProveEntry / CheckEntry) without the
// rest of it, and that a later checkpoint extends an earlier one
// (ProveExtends / CheckExtends). tlog's stored hashes live in audit_tree,
// written in the same transaction as each entry.

// querier is what a *store.Store and a *store.Tx share.
type querier = store.Querier

// hashReader reads tlog stored hashes from audit_tree through q.
func hashReader(ctx context.Context, q querier) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			var b []byte
			if err := q.QueryRowContext(ctx, "SELECT hash FROM audit_tree WHERE idx = ?", x).Scan(&b); err != nil {
				return nil, fmt.Errorf("audit: tree hash %d: %w", x, err)
			}
			if len(b) != tlog.HashSize {
				return nil, fmt.Errorf("audit: tree hash %d is damaged", x)
			}
			out[i] = tlog.Hash(b)
		}
		return out, nil
	})
}

// storeTree adds entry seq (whose canonical bytes are entry) to the tree.
func storeTree(ctx context.Context, q querier, seq int64, entry []byte) error {
	n := seq - 1
	hashes, err := tlog.StoredHashes(n, entry, hashReader(ctx, q))
	if err != nil {
		return err
	}
	base := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		if _, err := q.ExecContext(ctx, "INSERT INTO audit_tree(idx, hash) VALUES(?, ?)", base+int64(i), h[:]); err != nil {
			return fmt.Errorf("audit: tree: %w", err)
		}
	}
	return nil
}

// backfillTree stores tree hashes for entries written before the tree
// existed (or by a build without it), in one transaction.
func backfillTree(ctx context.Context, db *store.Store, size int64) error {
	var have int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM audit_tree").Scan(&have); err != nil {
		return fmt.Errorf("audit: tree: %w", err)
	}
	if have == tlog.StoredHashCount(size) {
		return nil
	}
	// Find how many leaves the stored hashes cover.
	var leaves int64
	for leaves < size && tlog.StoredHashCount(leaves+1) <= have {
		leaves++
	}
	if tlog.StoredHashCount(leaves) != have {
		return fmt.Errorf("audit: tree table holds %d hashes, not a whole number of entries; run izwi audit verify", have)
	}
	return db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, chainLock); err != nil {
			return err
		}
		var now int64 // another process may have backfilled meanwhile
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM audit_tree").Scan(&now); err != nil || now != have {
			return err
		}
		for seq := leaves + 1; seq <= size; seq++ {
			var entry []byte
			if err := tx.QueryRowContext(ctx, "SELECT entry FROM audit_log WHERE seq = ?", seq).Scan(&entry); err != nil {
				return fmt.Errorf("audit: tree backfill %d: %w", seq, err)
			}
			if err := storeTree(ctx, tx, seq, entry); err != nil {
				return err
			}
		}
		return nil
	})
}

// treeRoot returns the Merkle root over the first size entries.
func treeRoot(ctx context.Context, q querier, size int64) (Hash, error) {
	h, err := tlog.TreeHash(size, hashReader(ctx, q))
	return Hash(h), err
}

// frontier is a compact Merkle range: the roots of the perfect subtrees
// that make up the first n leaves, largest first. Verify uses it to
// recompute roots from the entries alone, in O(log n) memory.
type frontier struct {
	n     int64
	roots []tlog.Hash
}

func (f *frontier) add(entry []byte) {
	h := tlog.RecordHash(entry)
	for k := f.n; k&1 == 1; k >>= 1 {
		h = tlog.NodeHash(f.roots[len(f.roots)-1], h)
		f.roots = f.roots[:len(f.roots)-1]
	}
	f.roots = append(f.roots, h)
	f.n++
}

// root is the RFC 6962 tree hash of the leaves so far (zero for none, as
// tlog.TreeHash gives).
func (f *frontier) root() Hash {
	if len(f.roots) == 0 {
		return Hash{}
	}
	r := f.roots[len(f.roots)-1]
	for i := len(f.roots) - 2; i >= 0; i-- {
		r = tlog.NodeHash(f.roots[i], r)
	}
	return Hash(r)
}

// Inclusion is a proof that entry Seq is in the tree of Size entries.
type Inclusion struct {
	Seq   int64
	Size  int64
	Proof []Hash
}

// ProveEntry returns the proof that entry seq is among the first size
// entries (1 ≤ seq ≤ size ≤ the log's size), from the stored tree.
func ProveEntry(ctx context.Context, db *store.Store, seq, size int64) (Inclusion, error) {
	if seq < 1 || seq > size {
		return Inclusion{}, fmt.Errorf("audit: prove entry %d of %d: out of range", seq, size)
	}
	p, err := tlog.ProveRecord(size, seq-1, hashReader(ctx, db))
	if err != nil {
		return Inclusion{}, fmt.Errorf("audit: prove entry %d of %d: %w", seq, size, err)
	}
	out := Inclusion{Seq: seq, Size: size, Proof: make([]Hash, len(p))}
	for i, h := range p {
		out.Proof[i] = Hash(h)
	}
	return out, nil
}

// CheckEntry checks that entry (canonical bytes) is entry p.Seq of the tree
// whose root a verified checkpoint of p.Size entries carries.
func CheckEntry(p Inclusion, root Hash, entry []byte) error {
	e, err := Decode(entry)
	if err != nil {
		return err
	}
	if e.Seq != p.Seq {
		return fmt.Errorf("audit: entry says it is %d, the proof is for %d", e.Seq, p.Seq)
	}
	proof := make(tlog.RecordProof, len(p.Proof))
	for i, h := range p.Proof {
		proof[i] = tlog.Hash(h)
	}
	if err := tlog.CheckRecord(proof, p.Size, tlog.Hash(root), p.Seq-1, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("%w: entry %d is not in the tree of %d: %v", ErrTampered, p.Seq, p.Size, err)
	}
	return nil
}

// ProveExtends returns the proof that the tree of newSize entries extends
// the tree of oldSize (the log was only appended to in between).
func ProveExtends(ctx context.Context, db *store.Store, oldSize, newSize int64) ([]Hash, error) {
	if oldSize < 0 || oldSize > newSize {
		return nil, errors.New("audit: prove extension: want 0 ≤ old size ≤ new size")
	}
	p, err := tlog.ProveTree(newSize, oldSize, hashReader(ctx, db))
	if err != nil {
		return nil, fmt.Errorf("audit: prove extension %d → %d: %w", oldSize, newSize, err)
	}
	out := make([]Hash, len(p))
	for i, h := range p {
		out[i] = Hash(h)
	}
	return out, nil
}

// CheckExtends checks a ProveExtends proof between two checkpoints' roots.
func CheckExtends(proof []Hash, oldSize int64, oldRoot Hash, newSize int64, newRoot Hash) error {
	p := make(tlog.TreeProof, len(proof))
	for i, h := range proof {
		p[i] = tlog.Hash(h)
	}
	if err := tlog.CheckTree(p, newSize, tlog.Hash(newRoot), oldSize, tlog.Hash(oldRoot)); err != nil {
		return fmt.Errorf("%w: the tree of %d does not extend the tree of %d: %v", ErrTampered, newSize, oldSize, err)
	}
	return nil
}
