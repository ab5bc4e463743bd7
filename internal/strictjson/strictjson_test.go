package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckObject(t *testing.T) {
	for _, bad := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"\u0061":1,"a":2}`, `{"a":1} x`, `{"a":1}{"a":1}`,
		"{\"a\":\"\xff\"}", `[1]`, `"s"`, ``, `{"a":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`,
	} {
		if CheckObject([]byte(bad)) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	for _, good := range []string{`{}`, `{"a":[{"a":1},{"a":2}],"b":{"a":1}}`, " {\"a\":\"é\"} \n"} {
		if err := CheckObject([]byte(good)); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	var v struct{ A int }
	if Unmarshal([]byte(`{"A":1,"B":2}`), &v) == nil {
		t.Error("unknown field accepted")
	}
}

// FuzzCheckObject: whatever CheckObject accepts, encoding/json decodes.
func FuzzCheckObject(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{"a":[1,{"b":null}]}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckObject(b) == nil {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("accepted what encoding/json refuses: %q: %v", b, err)
			}
		}
	})
}
