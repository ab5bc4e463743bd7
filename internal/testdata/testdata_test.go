package testdata

import (
	"os"
	"testing"
)

func TestUtterancesComplete(t *testing.T) {
	us := Utterances(t)
	speakers := map[string]int{}
	for _, u := range us {
		speakers[u.Speaker]++
		if _, err := os.Stat(u.WAV); err != nil {
			t.Errorf("%s: %v", u.ID, err)
		}
	}
	if len(speakers) != 5 {
		t.Errorf("speakers = %v, want 5 distinct", speakers)
	}
}
