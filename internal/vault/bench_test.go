package vault

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSeal and BenchmarkOpen measure a whole call: the data-key row
// read and unwrap (one SQLite query) plus the AEAD over the object. ns/KiB
// is reported so sizes compare directly.
func BenchmarkSeal(b *testing.B) {
	for _, kib := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("%dKiB", kib), func(b *testing.B) {
			r := newRig(b)
			ctx := context.Background()
			pt := make([]byte, kib<<10)
			id, err := r.k.Key(ctx, ClassSnippet, "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := r.k.SealUnder(ctx, id, ClassSnippet, "bench", pt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(kib), "ns/KiB")
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, kib := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("%dKiB", kib), func(b *testing.B) {
			r := newRig(b)
			ctx := context.Background()
			blob, err := r.k.Seal(ctx, ClassSnippet, "bench", make([]byte, kib<<10))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(kib << 10))
			for b.Loop() {
				if _, err := r.k.Open(ctx, ClassSnippet, "bench", blob); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(kib), "ns/KiB")
		})
	}
}

// BenchmarkRotate re-wraps 1,000 data keys under a new master key per op
// (one transaction); keys/s is the re-wrap rate.
func BenchmarkRotate(b *testing.B) {
	r := newRig(b)
	ctx := context.Background()
	const keys = 1000
	for i := range keys {
		if _, err := r.k.Key(ctx, ClassVoiceprint, fmt.Sprintf("subject-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := r.k.Rotate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(keys*b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkShred destroys one data key per op: the audited transaction,
// the shred-list append (fsync) and the WAL checkpoint.
func BenchmarkShred(b *testing.B) {
	r := newRig(b)
	ctx := context.Background()
	ids := make([]KeyID, 0, b.N)
	for i := range b.N {
		id, err := r.k.Key(ctx, ClassSnippet, fmt.Sprintf("snippet-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	b.ResetTimer()
	for _, id := range ids {
		if err := r.k.Shred(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
