package audio_test

import (
	"bytes"
	"fmt"
	"math"

	"github.com/izwi-speech/izwi/internal/audio"
)

// A 44.1 kHz stereo upload becomes what a 16 kHz engine wants.
func Example() {
	const rate = 44100
	stereo := make([]float32, 2*rate) // 1 s, 440 Hz on the left only
	for i := range rate {
		stereo[2*i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	var file bytes.Buffer
	if err := audio.EncodeWAV(&file, stereo, rate, 2); err != nil {
		panic(err)
	}
	fmt.Println(audio.Sniff(file.Bytes()[:12]))

	clip, err := audio.Decode(&file, audio.Limits{})
	if err != nil {
		panic(err)
	}
	fmt.Println(clip.Format, clip.SampleRate, clip.Channels, clip.Duration())

	samples, err := audio.Prepare(clip, 16000)
	if err != nil {
		panic(err)
	}
	lv := audio.Analyze(samples, 16000)
	fmt.Printf("%d samples, peak %.2f, problems %q\n", len(samples), lv.Peak, lv.Problems())
	// Output:
	// wav
	// wav/pcm16 44100 2 1s
	// 16000 samples, peak 0.25, problems []
}
