package pocketsphinx

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// The file profile passes PocketSphinx exactly the CLI's defaults; the
// live one shortens the endpoint and drops the fwdflat pass, and both can
// be overridden by options.
func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		live  bool
		opts  map[string]string
		block int
		want  []string // flags expected, as "flag value"
		not   []string // flags that must be absent
	}{
		{live: false, block: fileBlock, not: []string{"-vad_postspeech", "-fwdflat", "-bestpath"}},
		{live: true, block: liveBlock, want: []string{"-vad_postspeech 15", "-fwdflat no"}, not: []string{"-bestpath"}},
		{live: true, opts: map[string]string{"endpoint": "30", "second_pass": "true"}, block: liveBlock,
			want: []string{"-vad_postspeech 30"}, not: []string{"-fwdflat"}},
		{live: false, opts: map[string]string{"endpoint": "20", "second_pass": "false"}, block: fileBlock,
			want: []string{"-vad_postspeech 20", "-fwdflat no"}},
	} {
		c, err := newConfig(context.Background(), speech.Spec{Options: tc.opts}, speech.Deps{}, tc.live)
		if err != nil {
			t.Fatal(err)
		}
		args := c.args()
		line := " " + strings.Join(args, " ") + " "
		for _, w := range tc.want {
			if !strings.Contains(line, " "+w+" ") {
				t.Errorf("live %v %v: args lack %q: %v", tc.live, tc.opts, w, args)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(args, n) {
				t.Errorf("live %v %v: args have %q: %v", tc.live, tc.opts, n, args)
			}
		}
		if c.block != tc.block {
			t.Errorf("live %v: block %d, want %d", tc.live, c.block, tc.block)
		}
	}
	for _, bad := range []map[string]string{{"endpoint": "4"}, {"endpoint": "101"}, {"endpoint": "x"}, {"second_pass": "maybe"}} {
		if _, err := newConfig(context.Background(), speech.Spec{Options: bad}, speech.Deps{}, true); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("%v: %v, want ErrBadInput", bad, err)
		}
	}
}
