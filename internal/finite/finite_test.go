package finite

import (
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	for _, s := range []string{"NaN", "nan", "+Inf", "-inf", "Infinity", "1e999", "", "x"} {
		if f, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", s, f)
		}
	}
	for s, want := range map[string]float64{"0": 0, "0.5": 0.5, "-2": -2, "1e3": 1000} {
		if f, err := Parse(s); err != nil || f != want {
			t.Errorf("Parse(%q) = %v, %v", s, f, err)
		}
	}
	if _, err := In("NaN", 0, 1); err == nil {
		t.Error("In accepted NaN")
	}
	if _, err := In("1.5", 0, 1); err == nil {
		t.Error("In accepted 1.5 for [0, 1]")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0.2", "NaN", "-Inf", "1e308", "0x1p3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := Parse(s); err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("Parse(%q) = %v", s, v)
		}
	})
}
