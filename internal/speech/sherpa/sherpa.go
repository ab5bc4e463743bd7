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
// Catalogue conventions (ResolvedModel roles, Family, Meta) for the roles
// in this file set:
//
//	VAD      role "model"; Family "silero-vad" or "silero" (or empty)
//	speaker  role "model"; Family "3d-speaker", "wespeaker", "nemo",
//	         "speaker" (or empty); Meta "sample_rate" (default 16000)
//	TTS      Family or Meta "model_type" "vits"/"piper" (default) or
//	         "kokoro"; roles "model", "tokens", optional "lexicon",
//	         "voices" (Kokoro), espeak-ng data as "espeak-ng-data/<file>";
//	         Meta "voices" ("id[:gender],…" in speaker-id order),
//	         "language", "lang" (Kokoro espeak voice, default en-us)
package sherpa
