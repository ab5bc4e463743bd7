package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Rotation keeps every object readable, retires the old master key (which
// then unwraps nothing), is audited, and a second keyring sharing the
// database picks the new key up by itself.
func TestRotateKeepsEverythingReadable(t *testing.T) {
	r := newRig(t)
	ctx := WithActor(context.Background(), "system:cli")
	type obj struct {
		c    Class
		id   string
		blob []byte
	}
	var objs []obj
	for i, c := range Classes() {
		for j := range 3 {
			id := fmt.Sprintf("%s-%d-%d", c, i, j)
			b, err := r.k.Seal(ctx, c, id, []byte(id))
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, obj{c, id, b})
		}
	}
	shredded := objs[0]
	sid, _ := KeyOf(shredded.blob)
	if err := r.k.Shred(ctx, sid); err != nil {
		t.Fatal(err)
	}
	other := r.second(t) // another process on the same database
	oldKEK, _, _ := r.prov.Keys(ctx)
	before, _ := r.k.Status(ctx)

	rot, err := r.k.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot.From != oldKEK.ID || rot.To == oldKEK.ID || rot.Rewrapped != len(objs)-1 {
		t.Fatalf("rotation %+v (old %s, %d live keys)", rot, oldKEK.ID, len(objs)-1)
	}
	for _, k := range []*Keyring{r.k, other} {
		for _, o := range objs[1:] {
			if got, err := k.Open(ctx, o.c, o.id, o.blob); err != nil || string(got) != o.id {
				t.Fatalf("%s after rotation: %q, %v", o.id, got, err)
			}
		}
		if _, err := k.Open(ctx, shredded.c, shredded.id, shredded.blob); !errors.Is(err, ErrShredded) {
			t.Fatalf("a shredded object came back after rotation: %v", err)
		}
	}
	// The old master key opens nothing now.
	rows, err := r.st.QueryContext(context.Background(), "SELECT id, class, owner, kek_id, wrapped FROM vault_keys WHERE destroyed_at IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var ids, class, owner, kekID string
		var w []byte
		rows.Scan(&ids, &class, &owner, &kekID, &w)
		id, _ := ParseKeyID(ids)
		if kekID != rot.To {
			t.Errorf("key %s is under %s, want %s", ids, kekID, rot.To)
		}
		for _, kid := range []string{oldKEK.ID, kekID} {
			if _, err := unwrap(oldKEK.key, w, wrapAAD(id, Class(class), owner, kid)); err == nil {
				t.Errorf("the retired master key still unwraps data key %s", ids)
			}
		}
		n++
	}
	rows.Close()
	if n != len(objs)-1 {
		t.Fatalf("%d live keys, want %d", n, len(objs)-1)
	}
	if _, err := os.Stat(r.prov.Path + ".next"); !os.IsNotExist(err) {
		t.Fatalf("the staged key file is still there: %v", err)
	}
	after, _ := r.k.Status(ctx)
	if after.KEKID != rot.To || after.Retired != 1 || after.StagedKEKID != "" || after.Shredded != before.Shredded {
		t.Fatalf("status after rotation %+v", after)
	}
	ev := r.rec.find("vault.rotate")
	if len(ev) != 1 || ev[0].Actor != "system:cli" || ev[0].Details["from"] != oldKEK.ID || ev[0].Target != "vault_kek:"+rot.To {
		t.Fatalf("audit %+v", ev)
	}
	// A provider holding only the old key no longer starts.
	old := &staticProvider{cur: oldKEK}
	st, _ := openStore(t, r.db)
	if _, err := New(ctx, Options{Store: st, Provider: old, Audit: r.rec}); !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("New with the retired key: %v", err)
	}
}

// A crash between the re-wrap commit and the promotion leaves everything
// readable (the keyring holds both keys, also after a restart), and running
// Rotate again finishes the job without re-wrapping anything twice.
func TestRotateResumesAfterCrash(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	blob, _ := r.k.Seal(ctx, ClassConsent, "c1", []byte("consent"))
	crash := &crashingProvider{FileProvider: r.prov, failPromote: true}
	k, err := New(ctx, Options{Store: r.st, Provider: crash, Audit: r.rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Rotate(ctx); err == nil {
		t.Fatal("rotation with a failing promote reported success")
	}
	if _, err := os.Stat(r.prov.Path + ".next"); err != nil {
		t.Fatalf("the staged key is gone: %v", err)
	}
	// Restart: a new keyring sees current + staged and opens everything.
	st, _ := openStore(t, r.db)
	k2, err := New(ctx, Options{Store: st, Provider: r.prov, Audit: r.rec})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Open(ctx, ClassConsent, "c1", blob); err != nil || string(got) != "consent" {
		t.Fatalf("after the crash: %v", err)
	}
	s, _ := k2.Status(ctx)
	if s.StagedKEKID == "" {
		t.Fatalf("status does not show the unfinished rotation: %+v", s)
	}
	// New keys made meanwhile go under the staged key, not the old one.
	b2, _ := k2.Seal(ctx, ClassConsent, "c2", []byte("later"))
	rot, err := k2.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Rewrapped != 0 || rot.To != s.StagedKEKID {
		t.Fatalf("resumed rotation %+v, want 0 re-wrapped to %s", rot, s.StagedKEKID)
	}
	for obj, b := range map[string][]byte{"c1": blob, "c2": b2} {
		if _, err := k2.Open(ctx, ClassConsent, obj, b); err != nil {
			t.Fatalf("%s after resume: %v", obj, err)
		}
	}
}

func (r *rig) second(t *testing.T) *Keyring {
	t.Helper()
	st, err := openStore(t, r.db)
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(context.Background(), Options{Store: st, Provider: &FileProvider{Path: r.prov.Path}, Audit: r.rec})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type staticProvider struct{ cur KEK }

func (p *staticProvider) Name() string                            { return "static" }
func (p *staticProvider) Keys(context.Context) (KEK, *KEK, error) { return p.cur, nil, nil }
func (p *staticProvider) Stage(context.Context) (KEK, error)      { return KEK{}, errors.New("static") }
func (p *staticProvider) Promote(context.Context) error           { return errors.New("static") }

type crashingProvider struct {
	*FileProvider
	failPromote bool
}

func (p *crashingProvider) Promote(ctx context.Context) error {
	if p.failPromote {
		return errors.New("simulated crash before promotion")
	}
	return p.FileProvider.Promote(ctx)
}

// Moving to another provider re-wraps everything under its key: a keyring
// on the new provider opens it all, one on the old provider refuses to
// start, and the move is audited.
func TestMoveToAnotherProvider(t *testing.T) {
	r := newRig(t)
	ctx := WithActor(context.Background(), "system:cli")
	blob, _ := r.k.Seal(ctx, ClassVoiceprint, "v", []byte("voice"))
	old, _, _ := r.prov.Keys(ctx)
	env := map[string]string{"IZWI_VAULT_PASSPHRASE": "a long enough passphrase"}
	pp := &PassphraseProvider{ParamsPath: filepath.Join(r.dir, "vault", "passphrase.json"), Source: envSource(env), params: fastParams}
	mv, err := r.k.MoveTo(ctx, pp)
	if err != nil {
		t.Fatal(err)
	}
	if mv.From != old.ID || mv.Rewrapped != 1 || mv.Provider != "passphrase" {
		t.Fatalf("move %+v", mv)
	}
	if got, err := r.k.Open(ctx, ClassVoiceprint, "v", blob); err != nil || string(got) != "voice" {
		t.Fatalf("after the move: %v", err)
	}
	if st, _ := r.k.Status(ctx); st.Provider != "passphrase" || st.KEKID != mv.To {
		t.Fatalf("status after the move %+v", st)
	}
	// New objects go under the new provider's key.
	b2, _ := r.k.Seal(ctx, ClassVoiceprint, "v2", []byte("later"))
	st, _ := openStore(t, r.db)
	k2, err := New(ctx, Options{Store: st, Provider: &PassphraseProvider{ParamsPath: pp.ParamsPath, Source: envSource(env)}, Audit: r.rec})
	if err != nil {
		t.Fatal(err)
	}
	for obj, b := range map[string][]byte{"v": blob, "v2": b2} {
		if _, err := k2.Open(ctx, ClassVoiceprint, obj, b); err != nil {
			t.Fatalf("%s with the new provider: %v", obj, err)
		}
	}
	st3, _ := openStore(t, r.db)
	if _, err := New(ctx, Options{Store: st3, Provider: &FileProvider{Path: r.prov.Path}, Audit: r.rec}); !errors.Is(err, ErrNoMasterKey) {
		t.Fatalf("the old provider after the move: %v", err)
	}
	if ev := r.rec.find("vault.move"); len(ev) != 1 || ev[0].Details["from_provider"] != "file" || ev[0].Details["to_provider"] != "passphrase" {
		t.Fatalf("audit %+v", ev)
	}
}

// Another process rotates while this one still holds the old master key:
// a data key this one makes afterwards must not be wrapped under the
// retired key (which the rotation destroys), or it is lost on restart.
func TestKeyAfterRotationElsewhere(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	stale := r.second(t) // has loaded the current key, knows nothing of the rotation
	if _, err := r.k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	blob, err := stale.Seal(ctx, ClassTranscript, "made-after-rotation", []byte("words"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := r.second(t) // a restart: only the new master key exists now
	if got, err := fresh.Open(ctx, ClassTranscript, "made-after-rotation", blob); err != nil || string(got) != "words" {
		t.Fatalf("a key made by a stale process after a rotation: %v", err)
	}
}
