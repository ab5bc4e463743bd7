package limit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/netpolicy"
)

func get(t *testing.T, url, keyID string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if keyID != "" {
		req.Header.Set("X-Test-Key", keyID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

func errCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, RequestID string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Code
}

// GET /v1/usage shows the caller's own usage and limits, never another's.
func TestUsageHandlerOwnOnly(t *testing.T) {
	clock := newClock(noon)
	l := newLimiter(t, Options{Defaults: Limits{RPS: 100, AudioMinutesPerDay: 60}, Now: clock.Now,
		Resolve: func(_ context.Context, p auth.Principal) (Overrides, error) {
			if p.ID == "vip" {
				return Overrides{Limits: Limits{AudioMinutesPerDay: -1, MaxSessions: 3}}, nil
			}
			return Overrides{}, nil
		}})
	ctx := context.Background()
	if err := l.ChargeAudio(ctx, key("alice"), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.ChargeAudio(ctx, key("vip"), 2*time.Hour); err != nil {
		t.Fatalf("unlimited override still limited: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /v1/usage", l.UsageHandler())
	srv := httptest.NewServer(withTestPrincipal(l.Middleware(mux)))
	defer srv.Close()

	status, _, body := get(t, srv.URL+"/v1/usage?subject=key:vip", "alice")
	var u Usage
	if err := json.Unmarshal(body, &u); status != 200 || err != nil {
		t.Fatalf("status %d, %s", status, body)
	}
	if u.Subject != "key:alice" || u.Used.AudioMinutes != 1.5 || u.Used.Requests != 1 || u.Limits.AudioMinutesPerDay != 60 || u.Day != "2026-11-23" {
		t.Fatalf("alice sees %+v", u)
	}
	status, _, body = get(t, srv.URL+"/v1/usage", "vip")
	_ = json.Unmarshal(body, &u)
	if status != 200 || u.Subject != "key:vip" || u.Used.AudioMinutes != 120 || u.Limits.AudioMinutesPerDay != 0 || u.Limits.MaxSessions != 3 {
		t.Fatalf("vip sees %d %+v", status, u)
	}
	status, hdr, body := get(t, srv.URL+"/v1/usage", "")
	if status != 401 || errCode(t, body) != "unauthenticated" || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous usage: %d %s", status, body)
	}
}

// A key's own deny list beats the global allow list; its own rate limit
// replaces the default.
func TestPerKeyIPAndRateOverrides(t *testing.T) {
	clock := newClock(noon)
	global, err := netpolicy.New(netpolicy.Config{Allow: []string{"127.0.0.0/8", "::1"}})
	if err != nil {
		t.Fatal(err)
	}
	denyLoopback, _ := netpolicy.ParseRules(nil, []string{"127.0.0.1", "::1"})
	allowElsewhere, _ := netpolicy.ParseRules([]string{"10.0.0.0/8"}, nil)
	l := newLimiter(t, Options{Defaults: Limits{RPS: 1000, Burst: 1000}, Now: clock.Now,
		Resolve: func(_ context.Context, p auth.Principal) (Overrides, error) {
			switch p.ID {
			case "denied":
				return Overrides{IP: denyLoopback}, nil
			case "elsewhere":
				return Overrides{IP: allowElsewhere}, nil
			case "slow":
				return Overrides{Limits: Limits{RPS: 0.5, Burst: 2}}, nil
			case "broken":
				return Overrides{}, errors.New("key store unavailable")
			}
			return Overrides{}, nil
		}})
	srv := httptest.NewServer(global.Middleware(withTestPrincipal(l.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))))
	defer srv.Close()

	for _, tc := range []struct {
		key    string
		status int
		code   string
	}{
		{"plain", 200, ""},
		{"denied", 403, CodeIPDenied},
		{"elsewhere", 403, CodeIPDenied},
		{"broken", 500, "internal"},
	} {
		status, _, body := get(t, srv.URL, tc.key)
		if status != tc.status || (tc.code != "" && errCode(t, body) != tc.code) {
			t.Errorf("key %s: %d %s, want %d %s", tc.key, status, body, tc.status, tc.code)
		}
	}
	var statuses []int
	var retry string
	for range 3 {
		status, hdr, _ := get(t, srv.URL, "slow")
		statuses = append(statuses, status)
		retry = hdr.Get("Retry-After")
	}
	if !reflect.DeepEqual(statuses, []int{200, 200, 429}) || retry != "2" {
		t.Fatalf("slow key: %v, Retry-After %q; want 200 200 429 with 2 s", statuses, retry)
	}
}

// Overrides are re-resolved after ResolveTTL, so a changed key applies
// without a restart.
func TestOverridesRefresh(t *testing.T) {
	clock := newClock(noon)
	var rps atomicFloat
	rps.Store(1)
	l := newLimiter(t, Options{Now: clock.Now, ResolveTTL: time.Second,
		Resolve: func(context.Context, auth.Principal) (Overrides, error) {
			return Overrides{Limits: Limits{RPS: rps.Load(), Burst: 1}}, nil
		}})
	ctx, p := context.Background(), key("r")
	_ = l.Allow(ctx, p)
	if l.Allow(ctx, p) == nil {
		t.Fatal("burst 1 allowed two")
	}
	rps.Store(-1) // the admin lifts the limit
	if l.Allow(ctx, p) == nil {
		t.Fatal("override re-read before ResolveTTL")
	}
	clock.Advance(time.Second)
	for range 100 {
		if err := l.Allow(ctx, p); err != nil {
			t.Fatalf("lifted limit still applies: %v", err)
		}
	}
}

type atomicFloat struct{ v atomic.Uint64 }

func (a *atomicFloat) Store(f float64) { a.v.Store(math.Float64bits(f)) }
func (a *atomicFloat) Load() float64   { return math.Float64frombits(a.v.Load()) }

func TestMergeAndParseLimits(t *testing.T) {
	def := Limits{RPS: 10, Burst: 20, MaxSessions: 4, AudioMinutesPerDay: 60}
	got := Merge(def, Limits{RPS: 1, MaxSessions: -1, ChatTokensPerDay: 500})
	want := Limits{RPS: 1, Burst: 20, MaxSessions: 0, AudioMinutesPerDay: 60, ChatTokensPerDay: 500}
	if got != want {
		t.Fatalf("Merge = %+v, want %+v", got, want)
	}
	if got := Merge(Limits{RPS: 0.2}, Limits{}); got.Burst != 1 {
		t.Fatalf("default burst for 0.2 rps = %d", got.Burst)
	}
	l, err := ParseLimits([]byte(`{"rps":5,"burst":10,"audio_minutes_per_day":-1}`))
	if err != nil || l != (Limits{RPS: 5, Burst: 10, AudioMinutesPerDay: -1}) {
		t.Fatalf("ParseLimits = %+v, %v", l, err)
	}
	if l, err := ParseLimits(nil); err != nil || l != (Limits{}) {
		t.Fatalf("empty blob: %+v %v", l, err)
	}
	for _, bad := range []string{`{"rsp":5}`, `{"rps":"5"}`, `{"rps":1e300}`, `{"rps":-2}`, `{} {}`, `[`, `{"burst":1.5}`} {
		if _, err := ParseLimits([]byte(bad)); err == nil {
			t.Errorf("ParseLimits(%s) accepted", bad)
		}
	}
	if _, err := New(context.Background(), Options{Defaults: Limits{RPS: math.NaN()}}); err == nil {
		t.Fatal("NaN default accepted")
	}
}

func FuzzParseLimits(f *testing.F) {
	for _, s := range []string{`{}`, `{"rps":5,"burst":10}`, `{"max_sessions":-1}`, `{"chat_tokens_per_day":9223372036854775807}`,
		`{"audio_minutes_per_day":1e-300}`, `null`, `{"rps":-0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		l, err := ParseLimits(blob)
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("parsed limits fail validation: %v", err)
		}
		// Effective limits are never negative and always usable.
		e := Merge(Limits{RPS: 1}, l)
		if e.RPS < 0 || e.Burst < 0 || e.MaxSessions < 0 || e.AudioMinutesPerDay < 0 || e.ChatTokensPerSecond < 0 || e.ChatTokensPerDay < 0 {
			t.Fatalf("negative effective limit %+v", e)
		}
		if e.RPS > 0 && e.Burst < 1 {
			t.Fatalf("rate without burst %+v", e)
		}
		if !strings.Contains(string(blob), "{") && l != (Limits{}) {
			t.Fatalf("non-object %q parsed to %+v", blob, l)
		}
	})
}
