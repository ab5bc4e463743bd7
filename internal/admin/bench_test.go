package admin

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
)

// BenchmarkLogin measures one successful password login at the production
// argon2id parameters (m = 19 MiB, t = 2, p = 1): hash check, throttle
// bookkeeping, audit and session creation.
func BenchmarkLogin(b *testing.B) {
	benchLogin(b, testPassword)
}

// BenchmarkLoginUnknownUser is the same for a name that does not exist:
// it must cost about the same (one dummy hash).
func BenchmarkLoginUnknownUser(b *testing.B) {
	benchLoginName(b, "nobody-here", testPassword)
}

// BenchmarkLoginWrongPassword is a real name with a wrong password; with
// BenchmarkLoginUnknownUser it shows both failures cost about the same.
func BenchmarkLoginWrongPassword(b *testing.B) {
	benchLoginName(b, testAdmin, "wrong password, long enough")
}

func benchLogin(b *testing.B, pw string) { benchLoginName(b, testAdmin, pw) }

func benchLoginName(b *testing.B, name, pw string) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "izwi.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	set := testSettings()
	set.Params = MinParams()
	set.ThrottleFree = 99 // failures are expected here; keep them unthrottled
	clock := clocktest.New(time.Unix(1_800_000_000, 0))
	svc, err := NewService(ctx, Options{Store: st, Audit: &audittest.Recorder{}, Settings: set, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "system:bench", "", testAdmin, RoleAdmin, testPassword); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		_, err := svc.Login(ctx, name, pw, "127.0.0.1", "")
		if name == testAdmin && pw == testPassword && err != nil {
			b.Fatal(err)
		}
		if err != nil { // keep failures below the throttle
			b.StopTimer()
			svc.db.ExecContext(ctx, "DELETE FROM admin_login_failures")
			b.StartTimer()
		}
	}
}

// BenchmarkSessionLookup is the per-request cost of an authenticated
// console request (hash, lookup, touch).
func BenchmarkSessionLookup(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "izwi.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc, err := NewService(ctx, Options{Store: st, Audit: &audittest.Recorder{}, Settings: testSettings(), InsecureTestParams: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "system:bench", "", testAdmin, RoleAdmin, testPassword); err != nil {
		b.Fatal(err)
	}
	res, err := svc.Login(ctx, testAdmin, testPassword, "", "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := svc.Session(ctx, res.Token); err != nil {
			b.Fatal(err)
		}
	}
}
