package opus

import (
	"math"
	"testing"
)

// A 440 Hz tone survives an encode and decode: as many samples come back
// as went in, with the tone's energy, and a lost packet is concealed.
func TestRoundTrip(t *testing.T) {
	enc, err := NewEncoder(48000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewDecoder(16000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	const frame = 960 // 20 ms at 48 kHz
	in := make([]float32, frame)
	var out []float32
	for f := range 50 {
		for i := range in {
			in[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(f*frame+i)/48000))
		}
		pkt, err := enc.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		pcm, err := dec.Decode(pkt)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pcm...)
	}
	if len(out) != 50*320 {
		t.Fatalf("decoded %d samples at 16 kHz, want %d", len(out), 50*320)
	}
	var energy float64
	for _, s := range out[len(out)/2:] {
		energy += float64(s) * float64(s)
	}
	if rms := math.Sqrt(energy / float64(len(out)/2)); rms < 0.25 || rms > 0.5 {
		t.Errorf("tone RMS %.3f after the round trip, want about 0.35", rms)
	}
	if pcm, err := dec.Decode(nil); err != nil || len(pcm) != 320 {
		t.Errorf("a lost packet: %d samples, %v", len(pcm), err)
	}
	if _, err := dec.Decode([]byte{0xff, 0xff, 0xff}); err == nil {
		t.Error("a corrupt packet decoded")
	}
	if _, err := enc.Encode(in[:7]); err == nil {
		t.Error("a partial frame encoded")
	}
	dec.Close()
	if _, err := dec.Decode(nil); err != ErrClosed {
		t.Errorf("after Close: %v", err)
	}
}

// Any bytes as a packet decode or fail; none crash the decoder.
func FuzzDecode(f *testing.F) {
	enc, err := NewEncoder(48000, 1)
	if err != nil {
		f.Fatal(err)
	}
	pkt, err := enc.Encode(make([]float32, 960))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte(nil), pkt...))
	enc.Close()
	f.Add([]byte{})
	f.Add([]byte{0xfc, 0xff, 0xfe})
	dec, err := NewDecoder(48000, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := dec.Decode(b)
		if err == nil && len(pcm) > MaxFrame*2 {
			t.Fatalf("%d samples from one packet", len(pcm))
		}
	})
}
