// Package sherpa owns every sherpa-onnx binding in Izwi: it is the only
// package that imports github.com/k2-fsa/sherpa-onnx-go (pinned at v1.13.8)
// and adapts its recognizers, voice activity detector, speaker-embedding
// extractor and offline TTS to the engine-neutral interfaces of package
// speech. Only the composition root (cmd/izwi) imports it, through Register.
//
// Model paths come only from verified speech.ResolvedModels: a corrupt
// .onnx aborts the whole process inside onnxruntime, so nothing reaches the
// native runtime before package models has checked its SHA-256. sherpa-onnx
// also calls exit() on models whose metadata lacks keys it needs, so the
// engines read that metadata in Go first (readONNXMetadata) and refuse such
// models with speech.ErrModel.
//
// Catalogue conventions (ResolvedModel Family, roles, Meta), matching
// package models' family table where it has one:
//
//	vad-silero         role "model"; meta threshold, min_silence_duration,
//	                   min_speech_duration, max_speech_duration, window_size,
//	                   sample_rate are option defaults
//	speaker-embedding  role "model"; meta sample_rate, dim (checked)
//	tts-vits           roles "model", "tokens", optional "lexicon", espeak-ng
//	                   data as "espeak-ng-data/<file>" (Piper); meta language,
//	                   gender, noise_scale, noise_scale_w, length_scale,
//	                   voices ("id[:gender],…" in speaker-id order)
//	tts-kokoro         roles "model", "voices", "tokens", espeak-ng data;
//	                   meta as tts-vits plus lang (espeak voice, en-us)
package sherpa
