package speakers

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// EnrolRequest enrols one person from one recording.
type EnrolRequest struct {
	Name    string
	Consent ConsentInput
	// Samples is the recording, mono at the embedder's rate. It is
	// embedded and then dropped; it is never stored.
	Samples []float32
	// Speech is how much of Samples the VAD judged speech.
	Speech       time.Duration
	Requirements speaker.Requirements
}

// Embedder is the speaker model enrolment uses (speech.Embedder
// satisfies it), and Model its catalogue name: voiceprints are comparable
// only within one model.
type Embedder interface {
	speaker.Embedder
}

// Enrol checks consent and quality, embeds the recording and stores the
// subject, the consent record and the sealed voiceprint in one transaction
// with its audit entry. On a quality failure it returns the verdict and an
// error wrapping ErrQuality, and stores nothing.
func (r *Registry) Enrol(ctx context.Context, emb Embedder, model string, req EnrolRequest) (Subject, speaker.Quality, error) {
	if emb == nil || model == "" {
		return Subject{}, speaker.Quality{}, ErrNoModel
	}
	if err := checkName(req.Name); err != nil {
		return Subject{}, speaker.Quality{}, err
	}
	if err := req.Consent.check(); err != nil {
		return Subject{}, speaker.Quality{}, err
	}
	q := speaker.CheckEnrolment(req.Samples, emb.SampleRate(), req.Speech, req.Requirements)
	if !q.OK() {
		return Subject{}, q, fmt.Errorf("%w: %s", ErrQuality, q.Problems[0])
	}
	vec, err := embedWindows(ctx, emb, req.Samples)
	if err != nil {
		return Subject{}, q, err
	}
	now := r.now()
	sub := Subject{ID: newID("sub_"), Name: req.Name, CreatedAt: now.UTC()}
	// Consent first: it creates the subject's key, and nothing biometric
	// is stored without it.
	rec, err := r.consent.Record(ctx, req.Consent.grant(owner(sub.ID)))
	if err != nil {
		if errors.Is(err, consent.ErrInvalid) {
			return Subject{}, q, fmt.Errorf("%w: %w", ErrNoConsent, err)
		}
		return Subject{}, q, err
	}
	undo := func(err error) (Subject, speaker.Quality, error) {
		if werr := r.consent.Withdraw(ctx, rec.ID, req.Consent.Operator, "enrolment_failed"); werr != nil {
			err = errors.Join(err, werr)
		}
		return Subject{}, q, fmt.Errorf("speakers: enrol: %w", err)
	}
	key, err := r.vault.Key(ctx, vault.ClassSubject, owner(sub.ID))
	if err != nil {
		return undo(err)
	}
	sealedName, err := r.vault.SealUnder(ctx, key, vault.ClassSubject, sub.ID, []byte(req.Name))
	if err != nil {
		return undo(err)
	}
	pi := PrintInfo{ID: newID("vp_"), Model: model, Dim: len(vec), CreatedAt: now.UTC()}
	sealedVec, err := r.vault.SealUnder(ctx, key, vault.ClassVoiceprint, pi.ID, encodeVector(vec))
	if err != nil {
		return undo(err)
	}
	qj, _ := json.Marshal(q)
	pi.Quality = string(qj)
	err = r.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO speakers_subjects (id, sealed_name, created_at) VALUES (?, ?, ?)",
			sub.ID, sealedName, now.UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO speakers_voiceprints (id, subject_id, model, dim, sealed, quality, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, pi.ID, sub.ID, model, pi.Dim, sealedVec, pi.Quality, now.UnixNano()); err != nil {
			return err
		}
		return r.recordTx(ctx, tx, "speaker.enrol", "subject:"+sub.ID,
			map[string]string{"consent_id": rec.ID, "consent_version": rec.NoticeVersion, "model": model})
	})
	if err != nil {
		return undo(err)
	}
	sub.Consents = []consent.Summary{{ID: rec.ID, Purpose: rec.Purpose, Status: rec.Status, GivenAt: rec.GivenAt, Deadline: rec.Deadline}}
	sub.Voiceprints = []PrintInfo{pi}
	return sub, q, nil
}

// recordTx audits inside tx when the recorder can, else right away (an
// audit failure still aborts the transaction).
func (r *Registry) recordTx(ctx context.Context, tx *store.Tx, action, target string, details map[string]string) error {
	e := audit.Event{Time: r.now().UTC(), Actor: actorOf(ctx), Action: action, Target: target, Outcome: "ok", Details: details}
	if txr, ok := r.audit.(vault.TxRecorder); ok {
		return txr.RecordTx(ctx, tx, e)
	}
	return r.audit.Record(ctx, e)
}

// embedWindows embeds the recording in windows of up to 6 s (hop 3 s) and
// returns their centroid: steadier than one embedding of a long take.
func embedWindows(ctx context.Context, emb Embedder, s []float32) ([]float32, error) {
	win, hop := 6*emb.SampleRate(), 3*emb.SampleRate()
	var vs [][]float32
	for start := 0; ; start += hop {
		end := min(start+win, len(s))
		v, err := emb.Embed(ctx, s[start:end])
		if err != nil {
			return nil, fmt.Errorf("speakers: embedding: %w", err)
		}
		vs = append(vs, v)
		if end == len(s) {
			break
		}
	}
	return speaker.Centroid(vs)
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(b []byte) ([]float32, error) {
	if len(b)%4 != 0 || len(b) == 0 {
		return nil, errors.New("speakers: stored voiceprint has a bad length")
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// Erase serves an erasure request (GDPR Art. 17): the subject's consent
// records are erased and their data key shredded (name and voiceprints
// become unreadable for good), the voiceprint rows are deleted and the
// subject kept as a tombstone, all audited. Erasing twice is a no-op.
func (r *Registry) Erase(ctx context.Context, subjectID string) error {
	if err := r.exists(ctx, subjectID); err != nil {
		return err
	}
	if _, err := r.consent.Erase(ctx, owner(subjectID), actorOf(ctx)); err != nil {
		return fmt.Errorf("speakers: erase: %w", err)
	}
	// The consent service shreds the key; shredding again is a no-op that
	// also covers a subject whose consent record is missing.
	if _, err := r.vault.ShredOwner(ctx, vault.ClassSubject, owner(subjectID)); err != nil {
		return fmt.Errorf("speakers: shredding: %w", err)
	}
	return r.tombstone(ctx, subjectID, "erasure_request")
}

// Withdraw records the subject's withdrawal of consent — as easy as giving
// it: one call, one button — and destroys their voiceprints at once.
func (r *Registry) Withdraw(ctx context.Context, subjectID string) error {
	if err := r.exists(ctx, subjectID); err != nil {
		return err
	}
	rec, err := r.consent.Active(ctx, owner(subjectID), consent.PurposeSpeakerID)
	switch {
	case err == nil:
		if err := r.consent.Withdraw(ctx, rec.ID, actorOf(ctx), "subject_request"); err != nil {
			return fmt.Errorf("speakers: withdraw: %w", err)
		}
	case !errors.Is(err, consent.ErrNoConsent):
		return fmt.Errorf("speakers: withdraw: %w", err)
	}
	if _, err := r.vault.ShredOwner(ctx, vault.ClassSubject, owner(subjectID)); err != nil {
		return fmt.Errorf("speakers: shredding: %w", err)
	}
	return r.tombstone(ctx, subjectID, "consent_withdrawn")
}

// Purge ends consents past their deadline (shredding those subjects' keys)
// and deletes the voiceprint rows of every subject whose consent no longer
// stands. The purge job runs it; it returns the subjects it closed.
func (r *Registry) Purge(ctx context.Context) (int, error) {
	if _, err := r.consent.Expire(ctx); err != nil {
		return 0, fmt.Errorf("speakers: purge: %w", err)
	}
	ids, err := r.liveSubjects(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := r.consent.Active(ctx, owner(id), consent.PurposeSpeakerID); err == nil {
			continue
		} else if !errors.Is(err, consent.ErrNoConsent) {
			return n, err
		}
		if _, err := r.vault.ShredOwner(ctx, vault.ClassSubject, owner(id)); err != nil {
			return n, err
		}
		if err := r.tombstone(ctx, id, "consent_ended"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (r *Registry) exists(ctx context.Context, id string) error {
	var n int
	if err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM speakers_subjects WHERE id = ?", id).Scan(&n); err != nil {
		return fmt.Errorf("speakers: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// liveSubjects lists the subjects not yet erased.
func (r *Registry) liveSubjects(ctx context.Context) ([]string, error) {
	ids, err := r.st.Strings(ctx, "SELECT id FROM speakers_subjects WHERE erased_at IS NULL")
	if err != nil {
		return nil, fmt.Errorf("speakers: %w", err)
	}
	return ids, nil
}

// tombstone deletes a subject's voiceprints and name and records why.
func (r *Registry) tombstone(ctx context.Context, subjectID, reason string) error {
	now := r.now().UnixNano()
	err := r.st.Tx(ctx, func(tx *store.Tx) error {
		var erased sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT erased_at FROM speakers_subjects WHERE id = ?", subjectID).Scan(&erased); err != nil {
			return err
		}
		if erased.Valid {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM speakers_voiceprints WHERE subject_id = ?", subjectID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE speakers_subjects SET sealed_name = NULL, erased_at = ?, erase_reason = ? WHERE id = ?",
			now, reason, subjectID); err != nil {
			return err
		}
		return r.recordTx(ctx, tx, "speaker.erase", "subject:"+subjectID, map[string]string{"reason": reason})
	})
	if err != nil {
		return fmt.Errorf("speakers: %w", err)
	}
	return nil
}

// MeasureSpeech runs a VAD over samples (mono at vad.SampleRate()) and
// returns how much of them is speech: the enrolment bar's first measure.
func MeasureSpeech(vad speech.VAD, samples []float32) (time.Duration, error) {
	det, err := vad.NewDetector()
	if err != nil {
		return 0, err
	}
	defer det.Close()
	var total time.Duration
	add := func(segs []speech.SpeechSegment) {
		for _, s := range segs {
			total += speech.SamplesToDuration(len(s.Samples), vad.SampleRate())
		}
	}
	segs, err := det.Accept(samples)
	if err != nil {
		return 0, err
	}
	add(segs)
	if segs, err = det.Flush(); err != nil {
		return 0, err
	}
	add(segs)
	return total, nil
}
