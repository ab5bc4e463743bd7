package flite

/*
#include <stdint.h>
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"unsafe"
)

// request is what Flite's streaming callback needs to reach the caller: it
// travels through C as a cgo.Handle, so no Go pointer is kept by C code.
type request struct {
	ctx   context.Context
	sink  func([]float32) error
	rate  int
	limit int   // most samples one request may make
	err   error // why synthesis stopped early: ctx, sink, limit or rate
	sent  int   // samples handed to sink
	// panicked holds a sink panic, re-raised once Flite has unwound and
	// freed its utterance (a panic must not cross the C frames).
	panicked any
}

// deliver converts one chunk of 16-bit samples and hands it to the sink.
// It reports false when synthesis must stop.
func (r *request) deliver(pcm []int16, rate int) bool {
	if r.err != nil {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	if rate != r.rate {
		r.err = errRate(rate, r.rate)
		return false
	}
	if r.sent+len(pcm) > r.limit {
		r.err = errTooLong(r.limit, r.rate)
		return false
	}
	out := make([]float32, len(pcm))
	for i, v := range pcm {
		out[i] = float32(v) / 32768
	}
	if err := r.callSink(out); err != nil {
		r.err = err
		return false
	}
	r.sent += len(out)
	return true
}

// callSink runs the sink, turning a panic into a stop.
func (r *request) callSink(out []float32) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked = p
			err = errSinkPanicked
		}
	}()
	return r.sink(out)
}

//export izwiFliteChunk
func izwiFliteChunk(h C.uintptr_t, samples *C.short, n C.int, rate C.int) C.int {
	r := cgo.Handle(h).Value().(*request)
	if n <= 0 {
		return 0
	}
	// The slice aliases Flite's wave only for this call; deliver copies it.
	pcm := unsafe.Slice((*int16)(unsafe.Pointer(samples)), int(n))
	if !r.deliver(pcm, int(rate)) {
		return -1
	}
	return 0
}
