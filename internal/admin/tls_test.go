package admin

import (
	"strings"
	"testing"
	"time"
)

// Administrators see the certificate fingerprint clients should see;
// operators do not get the section.
func TestDashboardShowsCertificate(t *testing.T) {
	e := newEnv(t)
	const fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	e.tls = TLSStatus{Mode: "self_signed", Fingerprint: fp, NotAfter: time.Date(2029, 2, 3, 0, 0, 0, 0, time.UTC)}
	e.start()
	c := e.setup()
	r := c.do("GET", "/", nil)
	if r.status != 200 || !strings.Contains(r.raw, fp) || !strings.Contains(r.raw, "2029-02-03") {
		t.Fatalf("dashboard %d does not show the fingerprint and expiry:\n%s", r.status, r.raw)
	}
}

func TestDashboardSaysTLSIsOff(t *testing.T) {
	e := newEnv(t)
	e.tls = TLSStatus{Mode: "off"}
	e.start()
	c := e.setup()
	if r := c.do("GET", "/", nil); r.status != 200 || !strings.Contains(r.raw, "TLS is off") {
		t.Fatalf("dashboard %d does not say TLS is off:\n%s", r.status, r.raw)
	}
}
