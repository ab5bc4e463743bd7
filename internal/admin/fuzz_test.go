package admin

import (
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoginForm: the form parser never panics, accepts only known fields
// once each, bounded and valid UTF-8, and a urlencoded login round-trips.
func FuzzLoginForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "name=root&password=correct+horse+battery+staple")
	f.Add("application/x-www-form-urlencoded", "name=a&name=b")
	f.Add("application/x-www-form-urlencoded", "csrf=%zz")
	f.Add("application/json", `{"name":"root","password":"x","disabled":true}`)
	f.Add("application/x-www-form-urlencoded", "label=Sunday&vocabulary=a%2Cb&keep_transcript=on&scope_live.read=on&day_Sun=on")
	f.Add("application/json", `{"name":"root"} trailing`)
	f.Add("application/json", `{"name":1}`)
	f.Add("application/json; charset=utf-8", `{"name":"\u00e9","code":"123456"}`)
	f.Add("text/plain", "name=root")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, ct, body string) {
		m, err := parseForm(ct, []byte(body))
		if err != nil {
			return
		}
		for k, v := range m {
			if !formField(k) || len(v) > maxField || !utf8.ValidString(v) {
				t.Fatalf("accepted field %q (%d bytes)", k, len(v))
			}
		}
	})
}

// FuzzPHC: the hash parser never panics, refuses anything but bounded
// argon2id, and what it accepts re-encodes to the same string.
func FuzzPHC(f *testing.F) {
	f.Add(hashPassword("seed passphrase", testParams()))
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=019456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		if h.params.MemoryKiB > maxMemoryKiB || h.params.Iterations > maxIterations || len(h.salt) < saltLen {
			t.Fatalf("accepted out-of-range %+v", h.params)
		}
		if enc := encodePHC(h); enc != s {
			t.Fatalf("re-encoding %q gives %q", s, enc)
		}
		if !strings.HasPrefix(s, "$argon2id$") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzVocabulary: the console's vocabulary field splits into at most
// maxVocabulary trimmed, non-empty entries without commas or newlines.
func FuzzVocabulary(f *testing.F) {
	f.Add("Thabo, izwi:IH Z W IY\nNomsa")
	f.Add(",,\n\r ,")
	f.Add(strings.Repeat("a,", 200))
	f.Fuzz(func(t *testing.T, s string) {
		words, err := vocabulary(s)
		if err != nil {
			return
		}
		if len(words) > maxVocabulary {
			t.Fatalf("%d entries", len(words))
		}
		for _, w := range words {
			if w == "" || w != strings.TrimSpace(w) || strings.ContainsAny(w, ",\n\r") {
				t.Fatalf("entry %q", w)
			}
		}
	})
}

// FuzzUploadForm: the upload form parser never panics, takes only its
// known fields, once each, bounded and valid UTF-8, and at most one file.
func FuzzUploadForm(f *testing.F) {
	const b = "multipart/form-data; boundary=XX"
	f.Add(b, "--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--XX\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.md\"\r\n\r\n# Hi\r\n--XX--\r\n")
	f.Add(b, "--XX\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nPsalm\r\n--XX\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nagain\r\n--XX--\r\n")
	f.Add(b, "--XX\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\nx\r\n--XX--\r\n")
	f.Add(b, "--XX\r\nContent-Disposition: form-data; name=\"text\"; filename=\"t\"\r\n\r\nx\r\n--XX--\r\n")
	f.Add("multipart/form-data", "--XX--")
	f.Add("text/plain", "text=hello")
	f.Fuzz(func(t *testing.T, ct, body string) {
		req := httptest.NewRequest("POST", "/sessions/x/context", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		m, up, err := readUpload(req)
		if err != nil {
			return
		}
		for k, v := range m {
			if limit, ok := uploadSpec.Fields[k]; !ok || len(v) > limit || !utf8.ValidString(v) {
				t.Fatalf("accepted field %q (%d bytes)", k, len(v))
			}
		}
		if up != nil && len(up.Data) > len(body) {
			t.Fatalf("a file of %d bytes from a body of %d", len(up.Data), len(body))
		}
	})
}
