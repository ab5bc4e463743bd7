package memform

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

type part struct{ name, file, body string }

func form(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		if p.file != "" {
			w, _ := mw.CreateFormFile(p.name, p.file)
			w.Write([]byte(p.body))
		} else {
			mw.WriteField(p.name, p.body)
		}
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func read(t testing.TB, spec Spec, ct string, body []byte) (Form, error) {
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	return Read(req, spec)
}

var spec = Spec{Fields: map[string]int{"name": 8, "csrf": 16}, Files: map[string]int64{"audio": 6 << 20}}

// TestReadKeepsEverythingInMemory: fields and a 5 MiB file are read, and
// no temporary file appears (mime/multipart's ReadForm would write one).
func TestReadKeepsEverythingInMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	big := strings.Repeat("RIFF", 5<<20/4)
	ct, body := form(t, part{name: "csrf", body: "tok"}, part{name: "name", body: "Thabo"}, part{name: "audio", file: "a.wav", body: big})
	f, err := read(t, spec, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if f.Values["name"] != "Thabo" || f.Values["csrf"] != "tok" || f.Files["audio"].Name != "a.wav" || len(f.Files["audio"].Data) != len(big) {
		t.Fatalf("read %v, file %q of %d bytes", f.Values, f.Files["audio"].Name, len(f.Files["audio"].Data))
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("reading the form wrote %d temporary files", len(ents))
	}
	// An empty file part (no file chosen) is no file.
	ct, body = form(t, part{name: "name", body: "x"}, part{name: "audio", file: "", body: ""})
	if f, err := read(t, spec, ct, body); err != nil || len(f.Files) != 0 {
		t.Fatalf("no file chosen: %v %v", f.Files, err)
	}
}

func TestReadRefuses(t *testing.T) {
	cases := map[string][]part{
		"unknown field":   {{name: "label", body: "x"}},
		"repeated field":  {{name: "name", body: "a"}, {name: "name", body: "b"}},
		"field too long":  {{name: "name", body: "123456789"}},
		"not UTF-8":       {{name: "name", body: "\xff\xfe"}},
		"file too big":    {{name: "audio", file: "a.wav", body: strings.Repeat("x", 6<<20+1)}},
		"two files":       {{name: "audio", file: "a", body: "1"}, {name: "audio", file: "b", body: "2"}},
		"a file as field": {{name: "name", file: "n.txt", body: "x"}},
	}
	for name, parts := range cases {
		ct, body := form(t, parts...)
		if _, err := read(t, spec, ct, body); !errors.Is(err, ErrForm) {
			t.Errorf("%s: %v, want ErrForm", name, err)
		}
	}
	if _, err := read(t, spec, "application/x-www-form-urlencoded", []byte("name=x")); !errors.Is(err, ErrForm) {
		t.Errorf("not multipart: %v", err)
	}
	ct, body := form(t, part{name: "name", body: "x"})
	if _, err := read(t, spec, ct, body[:len(body)-10]); !errors.Is(err, ErrForm) {
		t.Errorf("a body cut short: %v", err)
	}
	lax := spec
	lax.IgnoreUnknown = true
	ct, body = form(t, part{name: "upload", file: "u.wav", body: "zzz"}, part{name: "name", body: "ok"})
	if f, err := read(t, lax, ct, body); err != nil || f.Values["name"] != "ok" || len(f.Files) != 0 {
		t.Errorf("ignoring unknown fields: %v %v", f, err)
	}
}

// FuzzRead: no input panics; what is accepted is within the spec.
func FuzzRead(f *testing.F) {
	ct, body := form(f, part{name: "name", body: "Thabo"}, part{name: "audio", file: "a.wav", body: "RIFF"})
	f.Add(ct, body)
	f.Add("multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--XX--\r\n"))
	f.Add("multipart/form-data", []byte("--XX--"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		got, err := read(t, spec, ct, body)
		if err != nil {
			return
		}
		for k, v := range got.Values {
			if limit, ok := spec.Fields[k]; !ok || len(v) > limit {
				t.Fatalf("accepted field %q (%d bytes)", k, len(v))
			}
		}
		for k, v := range got.Files {
			if limit, ok := spec.Files[k]; !ok || int64(len(v.Data)) > limit {
				t.Fatalf("accepted file %q (%d bytes)", k, len(v.Data))
			}
		}
	})
}
