package consent

import (
	"strings"
	"testing"
	"time"
)

// FuzzGrantValidate: validation never panics, and what it accepts has a
// pseudonymous subject, a known purpose and method, a notice, an intent,
// explicit consent and a term within the legal maximum.
func FuzzGrantValidate(f *testing.F) {
	f.Add("subject:0001aaaa", "speaker_identification", "typed_signature", "v1", "text", "name", "I agree", int64(0), true)
	f.Add("Jane Doe", "marketing", "implied", "", "", "", "", int64(-1), false)
	f.Add("subject:\x00\x01\x02abc", "speaker_identification", "paper", "v", " ", "", "x", int64(1<<62), true)
	f.Fuzz(func(t *testing.T, subject, purpose, method, version, text, name, intent string, term int64, explicit bool) {
		g := Grant{Subject: subject, Purpose: Purpose(purpose), Method: Method(method), Notice: Notice{version, text},
			Operator: "user:x", Term: durationOf(term), ExplicitGDPR: explicit, Evidence: Evidence{TypedName: name, Intent: intent}}
		if err := g.validate(); err != nil {
			return
		}
		if !strings.HasPrefix(g.Subject, "subject:") || g.Purpose != PurposeSpeakerID || g.Term <= 0 || g.Term > MaxTerm ||
			!g.ExplicitGDPR || strings.TrimSpace(g.Evidence.Intent) == "" || g.Recipients == nil {
			t.Fatalf("accepted %+v", g)
		}
	})
}

func durationOf(n int64) time.Duration { return time.Duration(n) }
