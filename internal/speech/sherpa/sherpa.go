// Package sherpa owns every sherpa-onnx binding in Izwi: it is the only
// package that imports github.com/k2-fsa/sherpa-onnx-go (pinned at v1.13.8)
// and adapts its recognizers, voice activity detector, speaker-embedding
// extractor and offline TTS to the engine-neutral interfaces of package
// speech.
//
// Model paths come only from verified speech.ResolvedModels: a corrupt
// .onnx aborts the whole process inside onnxruntime, so nothing reaches the
// native runtime before package models has checked its SHA-256. Only the
// composition root (cmd/izwi) should import this package, through Register.
package sherpa
