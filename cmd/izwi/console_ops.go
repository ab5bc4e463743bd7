package main

// The console's operations pages: API keys over auth.KeyStore, the audit
// log and its verification, health (engines, chains, CPU, memory, disk,
// bus, database) and the settings safe to change live (the public URL).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/finite"
	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/store"
)

type consoleKeys struct{ ks *auth.KeyStore }

var _ admin.Keys = consoleKeys{}

func keyRow(k auth.Key) admin.KeyRow {
	r := admin.KeyRow{ID: k.ID, Name: k.Name, Created: k.Created, Expires: k.Expires, Revoked: k.Revoked, LastUsed: k.LastUsed,
		RotatedTo: k.RotatedTo}
	for _, s := range k.Scopes {
		r.Scopes = append(r.Scopes, string(s))
	}
	if len(k.Limits) > 0 && string(k.Limits) != "null" && string(k.Limits) != "{}" {
		r.Limits = string(k.Limits)
	}
	return r
}

func keyActor(a admin.Actor) auth.Actor {
	return auth.Actor{ID: a.ID, RemoteIP: a.RemoteIP, RequestID: a.RequestID}
}

func (c consoleKeys) List(ctx context.Context) ([]admin.KeyRow, error) {
	keys, err := c.ks.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.KeyRow, len(keys))
	for i, k := range keys {
		out[i] = keyRow(k)
	}
	return out, nil
}

// refused marks an error whose text the console may show.
func refused(err error) error {
	return fmt.Errorf("%w: %s", admin.ErrRefused, strings.TrimPrefix(err.Error(), "auth: "))
}

// keyLimits turns the form's numbers into the key's limits object.
func keyLimits(nk admin.NewKey) (json.RawMessage, error) {
	lim := map[string]float64{}
	for _, f := range []struct {
		name, v string
		integer bool
	}{{"rps", nk.RPS, false}, {"max_sessions", nk.MaxSessions, true}, {"audio_minutes_per_day", nk.AudioMinPerDay, false}} {
		if f.v == "" {
			continue
		}
		x, err := finite.In(f.v, 0, 1e9)
		if err != nil || (f.integer && x != float64(int64(x))) {
			return nil, fmt.Errorf("auth: %s must be a non-negative number", strings.ReplaceAll(f.name, "_", " "))
		}
		lim[f.name] = x
	}
	if len(lim) == 0 {
		return nil, nil
	}
	return json.Marshal(lim)
}

func (c consoleKeys) Create(ctx context.Context, by admin.Actor, nk admin.NewKey) (admin.KeyRow, string, error) {
	req := auth.CreateRequest{Name: nk.Name, ExpiresIn: nk.ExpiresIn}
	for _, s := range nk.Scopes {
		sc, err := auth.ParseScope(s)
		if err != nil {
			return admin.KeyRow{}, "", refused(err)
		}
		req.Scopes = append(req.Scopes, sc)
	}
	var err error
	if req.Limits, err = keyLimits(nk); err != nil {
		return admin.KeyRow{}, "", refused(err)
	}
	spec, err := req.Spec(time.Now())
	if err == nil {
		err = c.ks.ValidateSpec(spec)
	}
	if err != nil {
		return admin.KeyRow{}, "", refused(err)
	}
	k, secret, err := c.ks.Create(ctx, keyActor(by), spec)
	if err != nil {
		return admin.KeyRow{}, "", err
	}
	return keyRow(k), secret, nil
}

func (c consoleKeys) Revoke(ctx context.Context, by admin.Actor, id string) error {
	err := c.ks.Revoke(ctx, keyActor(by), id)
	if errors.Is(err, auth.ErrKeyNotFound) {
		return admin.ErrNotFound
	}
	return err
}

func (c consoleKeys) Rotate(ctx context.Context, by admin.Actor, id string) (admin.KeyRow, string, error) {
	k, secret, err := c.ks.Rotate(ctx, keyActor(by), id)
	if errors.Is(err, auth.ErrKeyNotFound) {
		return admin.KeyRow{}, "", admin.ErrNotFound
	}
	if err != nil {
		return admin.KeyRow{}, "", err
	}
	return keyRow(k), secret, nil
}

// consoleAudit shows the audit log and verifies it as `izwi audit verify`
// does (the signed checkpoints outside the database included).
type consoleAudit struct {
	db  *store.Store
	log *audit.Log
	cfg config.Audit
}

var _ admin.AuditView = consoleAudit{}

func (c consoleAudit) Recent(ctx context.Context, n int) ([]admin.AuditRow, error) {
	entries, err := audit.Recent(ctx, c.db, n)
	if err != nil {
		return nil, err
	}
	out := make([]admin.AuditRow, len(entries))
	for i, e := range entries {
		out[i] = admin.AuditRow{Seq: e.Seq, Time: e.Event.Time, Actor: e.Event.Actor, Action: e.Event.Action, Target: e.Event.Target,
			Outcome: e.Event.Outcome, Details: e.Event.Details}
	}
	return out, nil
}

func (c consoleAudit) Verify(ctx context.Context) (admin.AuditStatus, error) {
	raw, err := audit.ReadCheckpoints(c.cfg.CheckpointPath)
	if err != nil {
		return admin.AuditStatus{}, err
	}
	rep, err := audit.Verify(ctx, c.db, raw, c.log.VerifierKey())
	if err != nil && !errors.Is(err, audit.ErrTampered) {
		return admin.AuditStatus{}, err
	}
	st := admin.AuditStatus{OK: rep.OK(), Entries: rep.Entries, Verified: rep.Verified, Checkpoints: rep.Checkpoints, Covered: rep.Covered}
	if rep.Problem != nil {
		st.Problem = fmt.Sprint(*rep.Problem)
	}
	return st, nil
}

// healthChecks is the Health page: every engine role (and what a chain
// serves), the machine (CPU, memory, the data directory's disk), the bus
// and the database.
func healthChecks(set *engines.Set, db *store.Store, broker *bus.Bus, dataDir string) func(context.Context) []admin.HealthCheck {
	return func(ctx context.Context) []admin.HealthCheck {
		var out []admin.HealthCheck
		for _, st := range set.Status() {
			c := admin.HealthCheck{Group: "engine", Name: st.Role, State: string(st.State), OK: st.State != engines.Failed,
				Detail: strings.TrimSpace(st.Engine + " " + st.Model)}
			if st.Error != "" {
				c.Detail += ": " + st.Error
			}
			if len(st.Serving) > 0 {
				names := make([]string, 0, len(st.Serving))
				for n := range st.Serving {
					names = append(names, n)
				}
				sort.Strings(names)
				var parts []string
				for _, n := range names {
					parts = append(parts, fmt.Sprintf("%s serves %d", n, st.Serving[n]))
				}
				c.Detail += " (chain: " + strings.Join(parts, ", ") + ")"
			}
			out = append(out, c)
		}
		for _, u := range set.Streams() {
			d := fmt.Sprintf("%d streams in use", u.InUse)
			if u.Capacity > 0 {
				d = fmt.Sprintf("%d of %d streams in use", u.InUse, u.Capacity)
			}
			out = append(out, admin.HealthCheck{Group: "capacity", Name: u.Role + " " + u.Engine, State: "ok", OK: u.Capacity == 0 || u.InUse < u.Capacity, Detail: d})
		}
		out = append(out, admin.HealthCheck{Group: "machine", Name: "CPU", State: "ok", OK: true, Detail: cpuDetail()})
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out = append(out, admin.HealthCheck{Group: "machine", Name: "memory", State: "ok", OK: true,
			Detail: fmt.Sprintf("this process: %d MiB from the OS (Go heap %d MiB); %s", ms.Sys>>20, ms.HeapAlloc>>20, memAvailable())})
		out = append(out, diskCheck(dataDir))
		for _, s := range []struct {
			name  string
			check func(context.Context) error
		}{{"bus", broker.Check}, {"database", db.Check}} {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := s.check(cctx)
			cancel()
			c := admin.HealthCheck{Group: "service", Name: s.name, State: "ok", OK: err == nil, Detail: "answering"}
			if err != nil {
				c.State, c.Detail = "error", err.Error()
			}
			out = append(out, c)
		}
		return out
	}
}

func cpuDetail() string {
	d := fmt.Sprintf("%d cores, %d goroutines", runtime.NumCPU(), runtime.NumGoroutine())
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			d += "; load " + strings.Join(f[:3], " ")
		}
	}
	return d
}

func memAvailable() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "machine memory unknown"
	}
	var total, avail int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = n
		case "MemAvailable:":
			avail = n
		}
	}
	return fmt.Sprintf("machine: %d of %d MiB available", avail>>10, total>>10)
}

// diskLow is the free space below which the data directory's disk is
// reported as a problem.
const diskLow = 1 << 30

func diskCheck(dir string) admin.HealthCheck {
	c := admin.HealthCheck{Group: "machine", Name: "disk", State: "ok", OK: true}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		c.State, c.OK, c.Detail = "unknown", false, "cannot read the data directory's file system"
		return c
	}
	free, total := fs.Bavail*uint64(fs.Bsize), fs.Blocks*uint64(fs.Bsize)
	c.Detail = fmt.Sprintf("data directory: %d of %d MiB free", free>>20, total>>20)
	if free < diskLow {
		c.State, c.OK = "low", false
	}
	return c
}

// siteSettings holds the settings the console may change live. The public
// URL is read by the pages (the display's QR code) and the console (links,
// QR codes, microphone pairing) on every use.
type siteSettings struct {
	public atomic.Pointer[string]
	client *http.Client
}

var _ admin.SiteSettings = (*siteSettings)(nil)

// newSiteSettings starts from the configured public URL (an origin, or "").
func newSiteSettings(public string) *siteSettings {
	if o, err := config.NormalizeOrigin(public); err == nil {
		public = o
	}
	s := &siteSettings{client: &http.Client{Timeout: 3 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	s.public.Store(&public)
	return s
}

// configured is the public URL set in the configuration or the console ("" none).
func (s *siteSettings) configured() string { return *s.public.Load() }

// PublicURL is the public URL set ("" none: pages use the origin they are
// opened on, the console the API listener's address).
func (s *siteSettings) PublicURL() string { return s.configured() }

// SetPublicURL checks that u is an origin and answers /healthz as Izwi
// does, then applies it. A loopback host is accepted with a warning:
// phones cannot reach it.
func (s *siteSettings) SetPublicURL(ctx context.Context, u string) (string, error) {
	if u == "" {
		s.public.Store(&u)
		return "Cleared: the console's links use the API listener's address, the pages the address they are opened on.", nil
	}
	o, err := config.NormalizeOrigin(u)
	if err != nil || o == "" {
		return "", fmt.Errorf("%w: the public URL must be scheme://host[:port], without a path", admin.ErrRefused)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, o+"/healthz", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		msg := "no answer"
		if errors.As(err, &ue) && ue.Timeout() {
			msg = "no answer within 3 s"
		}
		return "This server could not reach " + o + "/healthz (" + msg + "): check the address, DNS and the proxy.",
			fmt.Errorf("%w: %s did not answer; nothing was changed", admin.ErrRefused, o)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") == "" {
		return fmt.Sprintf("%s/healthz answered %d, not as Izwi does: is it this server?", o, resp.StatusCode),
			fmt.Errorf("%w: %s is not this server; nothing was changed", admin.ErrRefused, o)
	}
	s.public.Store(&o)
	check := o + " answers as this server."
	if pu, err := url.Parse(o); err == nil && netpolicy.LoopbackAddr(net.JoinHostPort(pu.Hostname(), "0")) {
		check += " It is a loopback address: phones and other computers cannot open it."
	} else if strings.HasPrefix(o, "http://") {
		check += " It is plain HTTP: phones will not let the microphone page record, and the connection is not private."
	}
	return check, nil
}
