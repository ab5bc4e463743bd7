package listen

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Close reasons (at most 123 bytes each, the WebSocket limit).
const (
	reasonTimeout  = "NET-0001: no audio or KeepAlive received within the timeout window"
	reasonQuota    = "quota exhausted: audio_minutes_per_day"
	reasonBadJSON  = "text messages must be JSON control messages: KeepAlive, Finalize or CloseStream"
	reasonShutdown = "server shutting down"
	reasonEngine   = "recognition failed; quote the request_id when reporting it"
	reasonSlow     = "client did not read results in time"
	reasonExpired  = "credential expired"
	reasonRevoked  = "credential no longer valid"
	reasonNotWAV   = "without encoding the stream must be WAV (8-48 kHz, 1-2 channels, 16-bit PCM, float, A-law or mu-law)"
	writeTimeout   = 10 * time.Second
)

// stream is one open /v1/listen WebSocket.
type stream struct {
	opts      Options
	p         Params
	requestID string
	created   time.Time
	sess      *limit.Session
	principal auth.Principal
	authed    bool
	conn      *websocket.Conn
	pl        Pipeline
	conv      *audio.Converter // nil until a WAV stream's header is read
	head      []byte           // the start of a WAV stream, until its header is complete
	rate      int

	sha      hash.Hash
	bytes    int64 // audio bytes received
	samples  int64 // mono samples at rate handed to the pipeline
	lastSeen atomic.Int64

	// Set while Finalize or CloseStream runs, so emitted finals are marked.
	finalizing, closing bool
	finalized           bool // a final went out during the current Finalize
	ended               bool // Metadata sent: nothing more goes out
	lastWordEnd         float64
	utteranceEndSent    bool
	inSpeech            bool // speech heard or partial words since the last final
	writeErr            error
	closeOnce           sync.Once
}

// run reads the client's messages until the stream ends; the watchdog
// runs beside it (idle timeout, expiry, shutdown) and is waited for.
func (s *stream) run(ctx context.Context) {
	log := s.opts.Logger.With("request_id", s.requestID)
	log.Info("listen: stream opened", "encoding", s.p.Format.Encoding, "sample_rate", s.p.Format.SampleRate,
		"channels", s.p.Format.Channels, "interim_results", s.p.Interim)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.watchdog(ctx, done) })
	code, reason := s.loop(ctx)
	close(done)
	wg.Wait()
	if err := s.pl.Close(); err != nil {
		log.Warn("listen: closing the pipeline", "err", err)
	}
	s.close(code, reason)
	log.Info("listen: stream closed", "close_code", int(code), "audio_seconds", s.seconds(), "bytes", s.bytes)
}

// loop handles messages; it returns the close code and reason to send
// (-1 when the connection is already gone). Reads are not bound to ctx:
// cancelling a read drops the socket without a close frame, so the
// watchdog closes it properly instead.
func (s *stream) loop(ctx context.Context) (websocket.StatusCode, string) {
	for {
		typ, msg, err := s.conn.Read(context.WithoutCancel(ctx))
		if err != nil {
			return -1, "" // the client closed, the watchdog closed, or the socket failed
		}
		if typ == websocket.MessageBinary && len(msg) > 0 {
			if code, reason := s.audio(ctx, msg); code != 0 {
				return code, reason
			}
			continue
		}
		var c control
		if typ == websocket.MessageText && !utf8.Valid(msg) {
			return websocket.StatusInvalidFramePayloadData, "text messages must be UTF-8"
		}
		if typ == websocket.MessageBinary {
			c.Type = msgCloseStream // an empty binary message: Deepgram's old close signal
		} else if err := json.Unmarshal(msg, &c); err != nil {
			return websocket.StatusUnsupportedData, reasonBadJSON
		}
		s.touch()
		switch c.Type {
		case msgKeepAlive:
		case msgFinalize:
			s.finalizing, s.finalized = true, false
			err := s.pl.Finalize()
			if err == nil && !s.finalized {
				// Nothing was open: an empty final still answers, because
				// clients wait for from_finalize to know the flush is done.
				at := speech.SamplesToDuration(int(s.samples), s.rate)
				s.emitFinal(speech.Result{Final: true, Start: at, End: at})
			}
			s.finalizing = false
			if err != nil {
				return websocket.StatusInternalError, reasonEngine
			}
		case msgCloseStream:
			s.closing = true
			if s.conv != nil { // the resampler's tail
				rest := s.conv.Flush()
				s.samples += int64(len(rest))
				if err := s.pl.Write(rest); err != nil {
					return websocket.StatusInternalError, reasonEngine
				}
			}
			if err := s.pl.Finalize(); err != nil {
				return websocket.StatusInternalError, reasonEngine
			}
			s.send(s.metadata())
			s.ended = true
			return websocket.StatusNormalClosure, ""
		default:
			return websocket.StatusPolicyViolation, reasonBadJSON
		}
		if s.writeErr != nil {
			return websocket.StatusPolicyViolation, reasonSlow
		}
	}
}

// audio charges, converts and recognises one binary message.
func (s *stream) audio(ctx context.Context, msg []byte) (websocket.StatusCode, string) {
	s.touch()
	s.sha.Write(msg)
	s.bytes += int64(len(msg))
	if s.conv == nil { // a WAV stream: its header first
		pcm, code, reason := s.header(msg)
		if code != 0 || len(pcm) == 0 {
			return code, reason
		}
		msg = pcm
	}
	d := time.Duration(int64(len(msg)) * int64(time.Second) / int64(s.p.Format.FrameSize()*s.p.Format.SampleRate))
	if s.sess != nil {
		if err := s.sess.ChargeAudio(ctx, d); err != nil {
			var le *limit.Error
			if errors.As(err, &le) {
				return websocket.StatusPolicyViolation, reasonQuota
			}
			return websocket.StatusInternalError, reasonEngine
		}
	}
	samples := s.conv.Convert(msg)
	s.samples += int64(len(samples))
	if err := s.pl.Write(samples); err != nil {
		s.opts.Logger.Warn("listen: recognition failed", "request_id", s.requestID, "err", err)
		return websocket.StatusInternalError, reasonEngine
	}
	s.checkUtteranceEnd()
	if s.writeErr != nil {
		return websocket.StatusPolicyViolation, reasonSlow
	}
	return 0, ""
}

// header buffers the start of a WAV stream until its header is complete,
// then sets the stream's format and returns the samples after it.
func (s *stream) header(msg []byte) ([]byte, websocket.StatusCode, string) {
	s.head = append(s.head, msg...)
	f, n, err := parseWAVHeader(s.head)
	switch {
	case errors.Is(err, errNeedMore):
		return nil, 0, ""
	case err != nil:
		return nil, websocket.StatusUnsupportedData, reasonNotWAV
	}
	conv, err := audio.NewConverter(f, s.rate)
	if err != nil {
		return nil, websocket.StatusUnsupportedData, reasonNotWAV
	}
	s.p.Format, s.conv = f, conv
	pcm := s.head[n:]
	s.head = nil
	return pcm, 0, ""
}

// emit turns a pipeline event into Deepgram's message, if the client asked
// for that kind.
func (s *stream) emit(e Event) {
	if s.ended {
		return
	}
	if e.SpeechStarted {
		s.inSpeech = true
		if s.p.VADEvents {
			s.send(SpeechStarted{Type: typeSpeechStarted, Channel: wholeStream(), Timestamp: secs(e.At)})
		}
		return
	}
	r := e.Result
	if !r.Final && !s.p.Interim {
		if r.Text != "" {
			s.inSpeech = true
		}
		return
	}
	if r.Final {
		s.inSpeech = false
		s.emitFinal(r)
		return
	}
	if r.Text != "" {
		s.inSpeech = true
	}
	s.send(resultsFrom(r, s.resultMetadata(), s.p))
}

// emitFinal sends a final result, marked by what caused it: Finalize
// (from_finalize), CloseStream (neither mark), or silence (speech_final,
// unless endpointing=false).
func (s *stream) emitFinal(r speech.Result) {
	res := resultsFrom(r, s.resultMetadata(), s.p)
	res.FromFinalize = s.finalizing
	res.SpeechFinal = !s.finalizing && !s.closing && s.p.Endpointing > 0
	s.finalized = s.finalized || s.finalizing
	if n := len(r.Words); n > 0 && r.Words[n-1].End.Seconds() > s.lastWordEnd {
		s.lastWordEnd, s.utteranceEndSent = r.Words[n-1].End.Seconds(), false
	}
	s.send(res)
}

// checkUtteranceEnd sends UtteranceEnd once the audio since the last
// final word reaches utterance_end_ms and no words are in progress (the
// engine's partials carry no word times, so an open partial or speech the
// VAD heard start counts as talking until the next final).
func (s *stream) checkUtteranceEnd() {
	if s.p.UtteranceEnd <= 0 || s.utteranceEndSent || s.lastWordEnd <= 0 || s.inSpeech {
		return
	}
	if s.seconds()-s.lastWordEnd >= s.p.UtteranceEnd.Seconds() {
		s.utteranceEndSent = true
		s.send(UtteranceEnd{Type: typeUtteranceEnd, Channel: wholeStream(), LastWordEnd: round(s.lastWordEnd)})
	}
}

func (s *stream) seconds() float64 {
	if s.rate <= 0 {
		return 0
	}
	return float64(s.samples) / float64(s.rate)
}

func (s *stream) send(v any) {
	if s.writeErr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	s.writeErr = s.conn.Write(ctx, websocket.MessageText, mustJSON(v))
}

func (s *stream) resultMetadata() ResultMetadata {
	uuid, mi := s.model()
	return ResultMetadata{RequestID: s.requestID, ModelInfo: mi, ModelUUID: uuid, Extra: s.p.Extra}
}

func (s *stream) model() (string, ModelInfo) {
	if s.opts.Recognizer == nil {
		return modelOf(speech.EngineInfo{Engine: "izwi", Model: "custom"})
	}
	return modelOf(s.opts.Recognizer.Info())
}

func (s *stream) metadata() Metadata {
	uuid, mi := s.model()
	return Metadata{Type: typeMetadata, TransactionKey: "deprecated", RequestID: s.requestID,
		SHA256: hex.EncodeToString(s.sha.Sum(nil)), Created: s.created.UTC().Format(time.RFC3339Nano),
		Duration: round(s.seconds()), Channels: s.p.Format.Channels, Models: []string{uuid},
		ModelInfo: map[string]ModelInfo{uuid: mi}, Warnings: warnings(s.p, mi.Name), Extra: s.p.Extra}
}

// touch records client activity for the idle timeout.
func (s *stream) touch() { s.lastSeen.Store(s.opts.Now().UnixNano()) }

// timedOut reports whether the client has been silent for IdleTimeout.
func (s *stream) timedOut() bool {
	return s.opts.Now().UnixNano()-s.lastSeen.Load() >= int64(s.opts.IdleTimeout)
}

// watchdog closes the stream, as Deepgram does, when the client sends
// neither audio nor KeepAlive for IdleTimeout (1011); when its credential
// expires or Recheck refuses it (1008); and with 1001 when ctx ends
// (server shutdown). It returns when done is closed.
func (s *stream) watchdog(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(s.opts.IdleCheck)
	defer t.Stop()
	lastCheck := s.opts.Now()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			s.close(websocket.StatusGoingAway, reasonShutdown)
			return
		case <-t.C:
			if s.timedOut() {
				s.close(websocket.StatusInternalError, reasonTimeout)
				return
			}
			if !s.authed {
				continue
			}
			now := s.opts.Now()
			if exp := s.principal.Expires; !exp.IsZero() && !now.Before(exp) {
				s.close(websocket.StatusPolicyViolation, reasonExpired)
				return
			}
			if s.opts.Recheck != nil && now.Sub(lastCheck) >= s.opts.RecheckEvery {
				lastCheck = now
				if err := s.opts.Recheck(ctx, s.principal); err != nil && ctx.Err() == nil {
					s.close(websocket.StatusPolicyViolation, reasonRevoked)
					return
				}
			}
		}
	}
}

// close sends the close frame once; code -1 just drops the connection.
func (s *stream) close(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() {
		if code < 0 {
			_ = s.conn.CloseNow()
			return
		}
		_ = s.conn.Close(code, reason)
	})
}
