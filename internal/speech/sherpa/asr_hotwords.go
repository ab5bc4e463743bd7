package sherpa

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

typedef const void *(*izwi_asr_create_fn)(const void *, const char *);

// The sherpa-onnx Go module v1.13.8 does not wrap
// SherpaOnnxCreateOnlineStreamWithHotwords, although the C library it links
// exports it; look it up in the already-loaded library.
static const void *izwi_asr_stream_with_hotwords(const void *rec, const char *hw) {
	izwi_asr_create_fn f = (izwi_asr_create_fn)dlsym(RTLD_DEFAULT, "SherpaOnnxCreateOnlineStreamWithHotwords");
	if (f == NULL) {
		return NULL;
	}
	return f(rec, hw);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// asrStreamWithHotwords creates a native stream with per-stream hotwords.
//
// sherpa.OnlineRecognizer and sherpa.OnlineStream each hold exactly one
// field, the C pointer; this reads and writes that field. The size check
// below refuses (rather than corrupts memory) if a future module version
// changes the layout. Remove this file once the Go module wraps
// SherpaOnnxCreateOnlineStreamWithHotwords.
func asrStreamWithHotwords(rec *sherpa.OnlineRecognizer, hotwords string) (*sherpa.OnlineStream, error) {
	var probeR sherpa.OnlineRecognizer
	var probeS sherpa.OnlineStream
	if unsafe.Sizeof(probeR) != unsafe.Sizeof(uintptr(0)) || unsafe.Sizeof(probeS) != unsafe.Sizeof(uintptr(0)) {
		return nil, fmt.Errorf("sherpa asr: per-stream hotwords: unexpected sherpa-onnx-go layout: %w", speech.ErrUnsupported)
	}
	impl := *(*unsafe.Pointer)(unsafe.Pointer(rec))
	if impl == nil {
		return nil, fmt.Errorf("sherpa asr: per-stream hotwords: %w", speech.ErrClosed)
	}
	chw := C.CString(hotwords)
	defer C.free(unsafe.Pointer(chw))
	p := C.izwi_asr_stream_with_hotwords(impl, chw)
	if p == nil {
		return nil, fmt.Errorf("sherpa asr: per-stream hotwords: sherpa-onnx made no stream: %w", speech.ErrUnsupported)
	}
	s := &sherpa.OnlineStream{}
	*(*unsafe.Pointer)(unsafe.Pointer(s)) = unsafe.Pointer(p)
	return s, nil
}
