package sherpa

import "github.com/izwi-speech/izwi/internal/speech"

// Engine is the name this package registers under in every role.
const Engine = "sherpa"

// Register adds the sherpa-onnx engines to r: "sherpa" (alias "silero") for
// VAD, "sherpa" for speaker embeddings and synthesis, and the ASR roles.
func Register(r *speech.Registry) {
	r.VADs.Register(Engine, NewVAD)
	r.VADs.Register("silero", NewVAD)
	r.Embedders.Register(Engine, NewEmbedder)
	r.Synthesizers.Register(Engine, NewSynthesizer)
	RegisterASR(r)
}
