package sherpa

// asrSplit cuts a long recording into pieces of at most maxLen samples for
// models that only take ≤ 30 s at once (whisper, moonshine). Rather than
// overlapping windows (which need duplicate words merged), each cut goes at
// the quietest 20 ms frame in the last quarter of the window, where a pause
// between words most likely lies. It returns the piece boundaries: 0, cuts…,
// len(samples). Needs no VAD and is deterministic.
func asrSplit(samples []float32, maxLen, frame int) []int {
	n := len(samples)
	bounds := []int{0}
	if maxLen <= 0 || frame <= 0 || frame > maxLen {
		return append(bounds, n)
	}
	start := 0
	for n-start > maxLen {
		hi := start + maxLen            // the cut may not go past here
		lo := start + maxLen - maxLen/4 // nor before here
		best, bestE := hi, float64(-1)
		for f := lo; f+frame <= hi; f += frame {
			var e float64
			for _, v := range samples[f : f+frame] {
				e += float64(v) * float64(v)
			}
			if bestE < 0 || e < bestE {
				best, bestE = f+frame/2, e
			}
		}
		if best <= start { // cannot happen with frame ≤ maxLen; keep progress certain
			best = hi
		}
		bounds = append(bounds, best)
		start = best
	}
	return append(bounds, n)
}
