package auth

import "testing"

func TestRevocationNoticeRoundTrip(t *testing.T) {
	id, lineage := newKeyID(), newKeyID()
	gotID, gotSubject, err := ParseRevocationNotice(RevocationNotice(id, "key:"+lineage))
	if err != nil || gotID != id || gotSubject != "key:"+lineage {
		t.Fatalf("round trip: %q %q %v", gotID, gotSubject, err)
	}
	for _, bad := range []string{"", " ", id, id + " ", id + " " + lineage + " x", id + "  " + lineage,
		"ABCDEFGHIJKL " + lineage, id + " key:" + lineage} {
		if _, _, err := ParseRevocationNotice([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseRevocationNotice(f *testing.F) {
	f.Add([]byte("abcdefghijkl mnopqrstuvwx"))
	f.Add([]byte("abcdefghijkl"))
	f.Add([]byte(" \x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, subject, err := ParseRevocationNotice(b)
		if err != nil {
			return
		}
		// Whatever is accepted is canonical: it encodes back to itself.
		if string(RevocationNotice(id, subject)) != string(b) {
			t.Fatalf("%q parsed to %q %q, which encodes differently", b, id, subject)
		}
	})
}
