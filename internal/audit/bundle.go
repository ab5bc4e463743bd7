package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// A proof bundle lets someone who holds only the verifier key check that one
// entry is in the log (a data subject, an auditor) without seeing any other
// entry:
//
//	{"seq":N,"entry":<canonical entry>,"checkpoint":"<signed note>","proof":["<base64>",...]}
type proofBundle struct {
	Seq        int64           `json:"seq"`
	Entry      json.RawMessage `json:"entry"`
	Checkpoint string          `json:"checkpoint"`
	Proof      []string        `json:"proof"`
}

// ProofBundle writes a checkpoint now and returns a bundle proving that
// entry seq is in the log it covers.
func (l *Log) ProofBundle(ctx context.Context, seq int64) ([]byte, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	signed, err := signCheckpoint(cp, l.signer)
	if err != nil {
		return nil, err
	}
	p, err := ProveEntry(ctx, l.db, seq, cp.Size)
	if err != nil {
		return nil, err
	}
	var entry []byte
	if err := l.db.QueryRowContext(ctx, "SELECT entry FROM audit_log WHERE seq = ?", seq).Scan(&entry); err != nil {
		return nil, fmt.Errorf("audit: entry %d: %w", seq, err)
	}
	b := proofBundle{Seq: seq, Entry: entry, Checkpoint: string(signed)}
	for _, h := range p.Proof {
		b.Proof = append(b.Proof, base64.StdEncoding.EncodeToString(h[:]))
	}
	return json.Marshal(b)
}

// CheckProofBundle verifies a ProofBundle with verifierKey and returns the
// entry it proves. Any failure of the signature or the proof wraps
// ErrTampered; a bundle that does not parse is a plain error.
func CheckProofBundle(bundle []byte, verifierKey string) (Entry, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: verifier key: %w", err)
	}
	var b proofBundle
	if err := json.Unmarshal(bundle, &b); err != nil {
		return Entry{}, fmt.Errorf("audit: proof bundle: %w", err)
	}
	if len(b.Entry) == 0 || b.Checkpoint == "" || len(b.Proof) > 64 {
		return Entry{}, errors.New("audit: proof bundle: want seq, entry, checkpoint and at most 64 proof hashes")
	}
	cp, err := OpenCheckpoint([]byte(b.Checkpoint), v)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrTampered, err)
	}
	if !cp.HasTree {
		return Entry{}, errors.New("audit: proof bundle: the checkpoint carries no tree root")
	}
	p := Inclusion{Seq: b.Seq, Size: cp.Size}
	for _, s := range b.Proof {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != HashSize {
			return Entry{}, errors.New("audit: proof bundle: bad proof hash")
		}
		p.Proof = append(p.Proof, Hash(h))
	}
	if err := CheckEntry(p, cp.Tree, b.Entry); err != nil {
		return Entry{}, err
	}
	return Decode(b.Entry)
}
