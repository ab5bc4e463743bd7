package speakers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/vault"
)

// List returns every subject, erased ones included as tombstones (no name),
// newest first. Names are decrypted: only administrators may see this.
func (r *Registry) List(ctx context.Context) ([]Subject, error) {
	ids, err := r.st.Strings(ctx, "SELECT id FROM speakers_subjects ORDER BY created_at DESC, id")
	if err != nil {
		return nil, fmt.Errorf("speakers: %w", err)
	}
	out := make([]Subject, 0, len(ids))
	for _, id := range ids {
		s, err := r.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Get returns one subject with their consents and voiceprint metadata.
func (r *Registry) Get(ctx context.Context, id string) (Subject, error) {
	var (
		s       = Subject{ID: id}
		sealed  []byte
		created int64
		erased  sql.NullInt64
		reason  sql.NullString
	)
	err := r.db.QueryRowContext(ctx, "SELECT sealed_name, created_at, erased_at, erase_reason FROM speakers_subjects WHERE id = ?", id).
		Scan(&sealed, &created, &erased, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return Subject{}, ErrNotFound
	}
	if err != nil {
		return Subject{}, fmt.Errorf("speakers: %w", err)
	}
	s.CreatedAt = time.Unix(0, created).UTC()
	if erased.Valid {
		t := time.Unix(0, erased.Int64).UTC()
		s.ErasedAt, s.EraseReason = &t, reason.String
	} else {
		name, err := r.vault.Open(ctx, vault.ClassSubject, id, sealed)
		if err != nil {
			return Subject{}, fmt.Errorf("speakers: subject %s: %w", id, err)
		}
		s.Name = string(name)
	}
	if s.Consents, err = r.consent.Summaries(ctx, owner(id)); err != nil {
		return Subject{}, err
	}
	rows, err := r.db.QueryContext(ctx, "SELECT id, model, dim, quality, created_at FROM speakers_voiceprints WHERE subject_id = ? ORDER BY created_at", id)
	if err != nil {
		return Subject{}, fmt.Errorf("speakers: %w", err)
	}
	defer rows.Close()
	s.Voiceprints = []PrintInfo{}
	for rows.Next() {
		var p PrintInfo
		var at int64
		if err := rows.Scan(&p.ID, &p.Model, &p.Dim, &p.Quality, &at); err != nil {
			return Subject{}, fmt.Errorf("speakers: %w", err)
		}
		p.CreatedAt = time.Unix(0, at).UTC()
		s.Voiceprints = append(s.Voiceprints, p)
	}
	return s, rows.Err()
}

// FindByName returns the live (not erased) subjects called name.
func (r *Registry) FindByName(ctx context.Context, name string) ([]Subject, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Subject
	for _, s := range all {
		if s.ErasedAt == nil && s.Name == name {
			out = append(out, s)
		}
	}
	return out, nil
}

// Gallery decrypts the voiceprints made with model, of subjects whose
// consent stands, into a gallery for live identification.
func (r *Registry) Gallery(ctx context.Context, model string) (*speaker.Gallery, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT v.id, v.subject_id, v.sealed, s.sealed_name FROM speakers_voiceprints v
		JOIN speakers_subjects s ON s.id = v.subject_id
		WHERE v.model = ? AND s.erased_at IS NULL`, model)
	if err != nil {
		return nil, fmt.Errorf("speakers: %w", err)
	}
	type row struct {
		id, subject  string
		vec, nameBlb []byte
	}
	var rs []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.id, &x.subject, &x.vec, &x.nameBlb); err != nil {
			rows.Close()
			return nil, fmt.Errorf("speakers: %w", err)
		}
		rs = append(rs, x)
	}
	rows.Close()
	var prints []speaker.Voiceprint
	for _, x := range rs {
		// Matching needs consent that stands now (not withdrawn, not past
		// its deadline), checked at every gallery build.
		if _, err := r.consent.Active(ctx, owner(x.subject), consent.PurposeSpeakerID); err != nil {
			if errors.Is(err, consent.ErrNoConsent) {
				continue
			}
			return nil, err
		}
		name, err := r.vault.Open(ctx, vault.ClassSubject, x.subject, x.nameBlb)
		if err != nil {
			return nil, fmt.Errorf("speakers: subject %s: %w", x.subject, err)
		}
		raw, err := r.vault.Open(ctx, vault.ClassVoiceprint, x.id, x.vec)
		if err != nil {
			return nil, fmt.Errorf("speakers: voiceprint %s: %w", x.id, err)
		}
		v, err := decodeVector(raw)
		clear(raw)
		if err != nil {
			return nil, err
		}
		prints = append(prints, speaker.Voiceprint{ID: x.subject, Name: string(name), Vector: v})
	}
	return speaker.NewGallery(prints)
}

// Export is what Izwi holds about one subject (GDPR access): their name,
// their consent records with evidence and history, and what voiceprints
// exist — never the voiceprints themselves (BIPA: no export or sale of
// biometric identifiers; SECURITY-TESTS.md).
type Export struct {
	Subject
	ConsentRecords []consent.Record  `json:"consent_records"`
	Scripts        map[string]string `json:"consent_texts"`
}

// ExportSubject returns the subject's data and audits the access.
func (r *Registry) ExportSubject(ctx context.Context, id string) (Export, error) {
	s, err := r.Get(ctx, id)
	if err != nil {
		return Export{}, err
	}
	recs, err := r.consent.Export(ctx, owner(id), actorOf(ctx))
	if err != nil {
		return Export{}, err
	}
	ex := Export{Subject: s, ConsentRecords: recs, Scripts: map[string]string{}}
	for _, c := range recs {
		ex.Scripts[c.NoticeVersion] = script(c.NoticeVersion)
	}
	if err := r.record(ctx, "speaker.export", "subject:"+id, "ok", nil); err != nil {
		return Export{}, fmt.Errorf("speakers: export not audited, not released: %w", err)
	}
	return ex, nil
}
