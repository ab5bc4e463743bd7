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
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech"
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
	key, err := r.vault.Key(ctx, vault.ClassSubject, owner(sub.ID))
	if err != nil {
		return Subject{}, q, err
	}
	sealedName, err := r.vault.SealUnder(ctx, key, vault.ClassSubject, sub.ID, []byte(req.Name))
	if err != nil {
		return Subject{}, q, err
	}
	pi := PrintInfo{ID: newID("vp_"), Model: model, Dim: len(vec), CreatedAt: now.UTC()}
	sealedVec, err := r.vault.SealUnder(ctx, key, vault.ClassVoiceprint, pi.ID, encodeVector(vec))
	if err != nil {
		return Subject{}, q, err
	}
	qj, _ := json.Marshal(q)
	pi.Quality = string(qj)
	c := Consent{ID: newID("con_"), TextVersion: req.Consent.TextVersion, Method: req.Consent.Method,
		Operator: req.Consent.Operator, GrantedAt: now.UTC()}
	err = r.st.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO speakers_subjects (id, sealed_name, created_at) VALUES (?, ?, ?)",
			sub.ID, sealedName, now.UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO speakers_consents (id, subject_id, text_version, method, operator, granted_at)
			VALUES (?, ?, ?, ?, ?, ?)`, c.ID, sub.ID, c.TextVersion, c.Method, c.Operator, now.UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO speakers_voiceprints (id, subject_id, model, dim, sealed, quality, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, pi.ID, sub.ID, model, pi.Dim, sealedVec, pi.Quality, now.UnixNano()); err != nil {
			return err
		}
		return r.recordTx(ctx, tx, "speaker.enrol", "subject:"+sub.ID,
			map[string]string{"consent_id": c.ID, "consent_version": c.TextVersion, "model": model})
	})
	if err != nil {
		return Subject{}, q, fmt.Errorf("speakers: enrol: %w", err)
	}
	sub.Consents, sub.Voiceprints = []Consent{c}, []PrintInfo{pi}
	return sub, q, nil
}

// recordTx audits inside tx when the recorder can, else right away (an
// audit failure still aborts the transaction).
func (r *Registry) recordTx(ctx context.Context, tx *sql.Tx, action, target string, details map[string]string) error {
	actor := "system"
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		actor = a
	}
	e := audit.Event{Time: r.now().UTC(), Actor: actor, Action: action, Target: target, Outcome: "ok", Details: details}
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

// Erase destroys a subject: their data key is shredded (name, consent
// evidence and voiceprints become unreadable for good), the voiceprint rows
// are deleted, open consents are marked revoked and the subject kept as a
// tombstone with the reason ("erasure_request", "consent_withdrawn",
// "retention"), all audited. Erasing an erased subject is a no-op.
func (r *Registry) Erase(ctx context.Context, subjectID, reason string) error {
	var erased sql.NullInt64
	err := r.db.QueryRowContext(ctx, "SELECT erased_at FROM speakers_subjects WHERE id = ?", subjectID).Scan(&erased)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("speakers: %w", err)
	}
	if erased.Valid {
		return nil
	}
	if _, err := r.vault.ShredOwner(ctx, vault.ClassSubject, owner(subjectID)); err != nil {
		return fmt.Errorf("speakers: shredding: %w", err)
	}
	now := r.now().UnixNano()
	err = r.st.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "PRAGMA secure_delete = ON"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM speakers_voiceprints WHERE subject_id = ?", subjectID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE speakers_subjects SET sealed_name = NULL, erased_at = ?, erase_reason = ? WHERE id = ?",
			now, reason, subjectID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE speakers_consents SET revoked_at = ? WHERE subject_id = ? AND revoked_at IS NULL",
			now, subjectID); err != nil {
			return err
		}
		return r.recordTx(ctx, tx, "speaker.erase", "subject:"+subjectID, map[string]string{"reason": reason})
	})
	if err != nil {
		return fmt.Errorf("speakers: erase: %w", err)
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
