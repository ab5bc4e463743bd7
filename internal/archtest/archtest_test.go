// Package archtest holds the architecture's rules as a test: which packages
// may import which, and where cgo may live. It runs `go list` over the module
// and fails when a change crosses a boundary, the way Go's own
// go/build/deps_test.go does.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/izwi-speech/izwi"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	CgoFiles   []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// enginePkgs are the only packages allowed to use cgo: the engines and
// the codec bindings.
var enginePkgs = map[string]bool{
	module + "/internal/speech/sherpa":       true,
	module + "/internal/speech/pocketsphinx": true,
	module + "/internal/speech/flite":        true,
	module + "/internal/codec/opus":          true,
}

func rel(path string) string { return strings.TrimPrefix(path, module+"/") }

func TestCgoOnlyInEnginePackages(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.CgoFiles) > 0 && !enginePkgs[p.ImportPath] {
			t.Errorf("%s uses cgo (%v); cgo lives only in the engine packages", rel(p.ImportPath), p.CgoFiles)
		}
	}
}

// forbidden lists, per package prefix, module packages it must not import
// (directly or indirectly).
var forbidden = []struct {
	pkg  string // prefix, relative to the module
	deny []string
	why  string
}{
	{"internal/speech", []string{"internal/api", "internal/config", "internal/models", "internal/engines", "cmd/"},
		"engines and the speech contracts know nothing of HTTP, config or model storage"},
	{"internal/audio", []string{"internal/speech", "internal/api", "internal/models", "internal/config"},
		"audio is a leaf: pure decoding and DSP"},
	{"internal/models", []string{"internal/speech/sherpa", "internal/speech/pocketsphinx", "internal/speech/flite", "internal/api"},
		"model verification must not load a native runtime"},
	{"internal/transcript", []string{"internal/api", "internal/models", "internal/speech/sherpa", "internal/speech/pocketsphinx", "internal/speech/flite"},
		"formats are pure"},
	{"internal/wer", []string{"internal/"}, "WER is a leaf"},
	{"internal/codec", []string{"internal/"}, "codec bindings are leaves: they know no feature"},
	{"internal/speech/chain", []string{"internal/speech/deepgram", "internal/speech/pocketsphinx", "internal/speech/sherpa", "internal/speech/flite"},
		"a chain composes the engines it is given and imports none"},
	{"internal/speech/deepgram", []string{"internal/speech/pocketsphinx", "internal/speech/sherpa", "internal/speech/flite", "internal/live", "internal/listen"},
		"the cloud engine is pure Go and stands alone"},
	{"internal/recognize", []string{"internal/api", "internal/config", "internal/live", "internal/listen", "internal/converse", "internal/realtime", "internal/store", "internal/bus", "cmd/"},
		"the one recognition pipeline knows engines and audio, not the features that use it"},
	{"internal/converse", []string{"internal/live"},
		"conversations recognise through internal/recognize, not through live sessions"},
	{"internal/realtime", []string{"internal/live", "internal/listen"},
		"the Realtime API recognises through internal/recognize and answers through converse.Respond, not through live sessions"},
	{"internal/listen", []string{"internal/live"},
		"/v1/listen recognises through internal/recognize, not through live sessions"},
	{"internal/finite", []string{"internal/"}, "number parsing is a leaf"},
	{"internal/textformat", []string{"internal/"}, "the caption formatter is a leaf: words in, words out"},
	{"internal/wordfilter", []string{"internal/speech", "internal/live", "internal/listen", "internal/api", "internal/store"},
		"word filters are pure: tokens in, tokens out (they use only the formatter)"},
	{"internal/strictjson", []string{"internal/"}, "JSON checking is a leaf"},
	{"internal/signing", []string{"internal/"}, "signing is a leaf: minisign and the project key, nothing else"},
	{"internal/prepare", []string{"internal/"}, "prepared text is a leaf: engines take what it makes, it knows none of them"},
	{"internal/testenv", []string{"internal/"}, "the test switch is a leaf"},
	{"internal/translate/apertium", []string{"internal/live", "internal/api", "internal/chat", "internal/store", "internal/config"},
		"a translation engine knows the translate contract and nothing of sessions, HTTP or storage"},
	{"internal/translate/chatmt", []string{"internal/live", "internal/translate/apertium"},
		"the chat translation engine knows the chat proxy and the translate contract only"},
	{"internal/translate/livetranslate", []string{"internal/translate/apertium", "internal/translate/chatmt", "internal/chat"},
		"live translation takes its engines from cmd/izwi through translate.Service"},
	{"internal/outputs", []string{"internal/translate", "internal/chat"},
		"caption outputs send what a feed carries; translated feeds reach them through their Source"},
	{"internal/memform", []string{"internal/"}, "the in-memory form reader is a leaf"},
	{"internal/logtest", []string{"internal/"}, "the test log buffer is a leaf"},
	{"internal/schedule", []string{"internal/live", "internal/admin", "internal/web", "cmd/"},
		"schedules know times and a small Sessions interface, not live captions or the console (cmd/izwi adapts)"},
	{"internal/admin", []string{"internal/live", "internal/web", "internal/schedule"},
		"the console talks to live captions and schedules through its own small interfaces, adapted in cmd/izwi"},
	{"internal/speak", []string{"internal/live", "internal/listen", "internal/openai", "internal/converse"},
		"Deepgram's speak synthesizes with the engine it is given and knows no other feature"},
	{"internal/audio/ffmpeg", []string{"internal/"}, "the ffmpeg sandbox is a leaf: it runs ffmpeg and knows nothing else"},
	{"internal/lease", []string{"internal/live", "internal/api", "internal/store", "internal/config"},
		"leases know the bus and nothing of what they are on"},
}

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		r := rel(p.ImportPath)
		for _, rule := range forbidden {
			if r != rule.pkg && !strings.HasPrefix(r, rule.pkg+"/") {
				continue
			}
			if strings.HasSuffix(r, "test") { // speechtest, testdata: test helpers
				continue
			}
			for _, d := range p.Deps {
				if !strings.HasPrefix(d, module+"/") {
					continue
				}
				dr := rel(d)
				for _, deny := range rule.deny {
					if strings.HasPrefix(dr, deny) && dr != r && !strings.HasPrefix(dr, r+"/") {
						t.Errorf("%s imports %s: %s", r, dr, rule.why)
					}
				}
			}
		}
	}
}

// The release tool's image builder stays out of the shipped binary.
func TestDistToolNotLinked(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/cmd/izwi" {
			continue
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, "github.com/google/go-containerregistry") || strings.HasPrefix(d, module+"/cmd/izwi-dist") {
				t.Errorf("cmd/izwi links %s; the image builder belongs to cmd/izwi-dist only", d)
			}
		}
		return
	}
	t.Fatal("cmd/izwi not found")
}

// Only the engine package talks to sherpa-onnx, and only cmd/izwi wires the HTTP layer.
func TestSingleOwners(t *testing.T) {
	owners := map[string]string{
		"github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx": module + "/internal/speech/sherpa",
		module + "/internal/api":                       module + "/cmd/izwi",
		// Every audio byte reaches ffmpeg through internal/audio, so its
		// sniffing, codec checks and limits apply to all of them.
		module + "/internal/audio/ffmpeg": module + "/internal/audio",
	}
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if owner, ok := owners[imp]; ok && p.ImportPath != owner && !strings.HasPrefix(p.ImportPath, imp) {
				t.Errorf("%s imports %s; only %s may", rel(p.ImportPath), imp, rel(owner))
			}
		}
	}
}
