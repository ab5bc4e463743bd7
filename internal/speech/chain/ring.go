package chain

// ring keeps the most recent audio of a stream, indexed by sample position
// from the start of the stream, in a fixed buffer (memory only).
type ring struct {
	buf  []float32
	end  int64 // samples pushed since the start (position after the newest)
	full bool
}

func newRing(capacity int) *ring { return &ring{buf: make([]float32, capacity)} }

// push appends samples, overwriting the oldest.
func (r *ring) push(samples []float32) {
	if skip := len(samples) - len(r.buf); skip > 0 {
		r.end += int64(skip)
		samples = samples[skip:]
	}
	for len(samples) > 0 {
		i := int(r.end % int64(len(r.buf)))
		n := copy(r.buf[i:], samples)
		samples = samples[n:]
		r.end += int64(n)
	}
	if r.end >= int64(len(r.buf)) {
		r.full = true
	}
}

// start is the position of the oldest sample still held.
func (r *ring) start() int64 {
	if !r.full {
		return 0
	}
	return r.end - int64(len(r.buf))
}

// since copies the audio from position from (clamped to what is held) to
// the newest, and returns it with its actual start position.
func (r *ring) since(from int64) ([]float32, int64) {
	from = max(from, r.start())
	if from >= r.end {
		return nil, r.end
	}
	out := make([]float32, 0, r.end-from)
	for p := from; p < r.end; {
		i := int(p % int64(len(r.buf)))
		n := min(int64(len(r.buf)-i), r.end-p)
		out = append(out, r.buf[i:i+int(n)]...)
		p += n
	}
	return out, from
}

// reset forgets everything.
func (r *ring) reset() {
	clear(r.buf)
	r.end, r.full = 0, false
}
