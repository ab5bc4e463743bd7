package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/realtime"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// OpenAI's Realtime API on a real izwi serve (PocketSphinx), driven by
// the official openai-go realtime client unmodified: a transcription
// session with server VAD hears a shared utterance streamed as 24 kHz
// PCM16 and reports speech_started, deltas, committed and completed with
// the words; a session with turn detection off commits by hand (an empty
// commit is an error event with a code); a key without asr.read is
// refused at the handshake.
func TestRealtimeTranscriptionEndToEnd(t *testing.T) {
	var u testdata.Utterance
	for _, x := range testdata.Utterances(t) {
		if x.ID == "1089-134691-0001" { // 5.4 s; PocketSphinx WER 0.059
			u = x
		}
	}
	env := openaiEnv(t)
	asrKey := newKey(t, env, "--name", "asr", "--scopes", "asr.read")
	ttsKey := newKey(t, env, "--name", "tts", "--scopes", "tts.read")
	s := startServe(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pcm := pcm24k(t, u.WAV)

	rc := openaiClient(s.url, asrKey)
	t.Run("server VAD", func(t *testing.T) {
		conn := realtimeConnect(ctx, t, rc)
		defer conn.Close()
		expect(ctx, t, conn, "session.created")
		err := conn.Send(ctx, realtime.RealtimeClientEventUnionParam{OfSessionUpdate: &realtime.SessionUpdateEventParam{
			Session: realtime.SessionUpdateEventSessionUnionParam{OfTranscription: &realtime.RealtimeTranscriptionSessionCreateRequestParam{
				Audio: realtime.RealtimeTranscriptionSessionAudioParam{Input: realtime.RealtimeTranscriptionSessionAudioInputParam{
					Format:        realtime.RealtimeAudioFormatsUnionParam{OfAudioPCM: &realtime.RealtimeAudioFormatsAudioPCMParam{Type: "audio/pcm", Rate: 24000}},
					Transcription: realtime.AudioTranscriptionParam{Model: realtime.AudioTranscriptionModelGPT4oTranscribe, Language: openai.String("en")},
					TurnDetection: realtime.RealtimeTranscriptionSessionAudioInputTurnDetectionUnionParam{
						OfServerVad: &realtime.RealtimeTranscriptionSessionAudioInputTurnDetectionServerVadParam{SilenceDurationMs: openai.Int(500)}},
				}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		expect(ctx, t, conn, "session.updated")
		appendAudio(ctx, t, conn, pcm)
		appendAudio(ctx, t, conn, make([]byte, 2*24000*2)) // 2 s of silence ends the turn
		// A pause in the reading may end a turn early: the session's
		// completed transcripts together must hold the utterance.
		seen := map[string]bool{}
		deltas := map[string]*strings.Builder{}
		var heard []string
		for wer.Compute(u.Reference, strings.Join(heard, " ")).Rate() > 0.2 {
			ev := recv(ctx, t, conn)
			seen[ev.Type] = true
			switch ev.Type {
			case "conversation.item.input_audio_transcription.delta":
				d := ev.AsConversationItemInputAudioTranscriptionDeltaEvent()
				if deltas[d.ItemID] == nil {
					deltas[d.ItemID] = &strings.Builder{}
				}
				deltas[d.ItemID].WriteString(d.Delta)
			case "conversation.item.input_audio_transcription.completed":
				done := ev.AsConversationItemInputAudioTranscriptionCompletedEvent()
				if b := deltas[done.ItemID]; b == nil || b.String() != done.Transcript {
					t.Errorf("item %s: deltas %v, completed %q", done.ItemID, b, done.Transcript)
				}
				heard = append(heard, done.Transcript)
			case "error":
				t.Fatalf("error event: %+v (heard so far %q)", ev.AsRealtimeErrorEvent().Error, heard)
			}
		}
		for _, typ := range []string{"input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed"} {
			if !seen[typ] {
				t.Errorf("no %s before the transcript", typ)
			}
		}
	})

	t.Run("manual commit", func(t *testing.T) {
		conn := realtimeConnect(ctx, t, rc)
		defer conn.Close()
		expect(ctx, t, conn, "session.created")
		// turn_detection null is how a client turns server VAD off.
		if err := conn.SendRaw(ctx, []byte(`{"type":"session.update","session":{"type":"transcription","audio":{"input":{"turn_detection":null}}}}`)); err != nil {
			t.Fatal(err)
		}
		expect(ctx, t, conn, "session.updated")
		commit := realtime.RealtimeClientEventUnionParam{OfInputAudioBufferCommit: &realtime.InputAudioBufferCommitEventParam{EventID: openai.String("c1")}}
		if err := conn.Send(ctx, commit); err != nil {
			t.Fatal(err)
		}
		if e := expect(ctx, t, conn, "error").AsRealtimeErrorEvent().Error; e.Code != "unprocessable" || e.EventID != "c1" {
			t.Errorf("empty commit: %+v", e)
		}
		appendAudio(ctx, t, conn, pcm)
		if err := conn.Send(ctx, commit); err != nil {
			t.Fatal(err)
		}
		item := expect(ctx, t, conn, "input_audio_buffer.committed").AsInputAudioBufferCommittedEvent().ItemID
		for {
			ev := recv(ctx, t, conn)
			if ev.Type == "conversation.item.input_audio_transcription.completed" {
				done := ev.AsConversationItemInputAudioTranscriptionCompletedEvent()
				if r := wer.Compute(u.Reference, done.Transcript).Rate(); r > 0.2 || done.ItemID != item {
					t.Errorf("item %s (committed %s), WER %.3f: %q", done.ItemID, item, r, done.Transcript)
				}
				break
			}
			if ev.Type != "conversation.item.input_audio_transcription.delta" {
				t.Fatalf("unexpected %s", ev.Type)
			}
		}
	})

	t.Run("scope", func(t *testing.T) {
		tts := openaiClient(s.url, ttsKey)
		conn, err := tts.Realtime.Connect(ctx, realtime.RealtimeConnectionOptions{},
			option.WithQuery("intent", "transcription"))
		if err == nil {
			conn.Close()
			t.Fatal("a tts.read key opened a realtime transcription session")
		}
	})
}

func realtimeConnect(ctx context.Context, t *testing.T, c openai.Client) *realtime.RealtimeConnection {
	t.Helper()
	conn, err := c.Realtime.Connect(ctx, realtime.RealtimeConnectionOptions{}, option.WithQuery("intent", "transcription"))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func recv(ctx context.Context, t *testing.T, conn *realtime.RealtimeConnection) realtime.RealtimeServerEventUnion {
	t.Helper()
	ev, err := conn.Recv(ctx)
	if err != nil {
		t.Fatalf("realtime: %v", err)
	}
	return ev
}

func expect(ctx context.Context, t *testing.T, conn *realtime.RealtimeConnection, typ string) realtime.RealtimeServerEventUnion {
	t.Helper()
	ev := recv(ctx, t, conn)
	if ev.Type != typ {
		t.Fatalf("got %s (%s), want %s", ev.Type, ev.RawJSON(), typ)
	}
	return ev
}

// appendAudio sends PCM16 in 100 ms appends, as a microphone would.
func appendAudio(ctx context.Context, t *testing.T, conn *realtime.RealtimeConnection, pcm []byte) {
	t.Helper()
	const chunk = 2 * 2400
	for i := 0; i < len(pcm); i += chunk {
		b := pcm[i:min(i+chunk, len(pcm))]
		err := conn.Send(ctx, realtime.RealtimeClientEventUnionParam{OfInputAudioBufferAppend: &realtime.InputAudioBufferAppendEventParam{
			Audio: base64.StdEncoding.EncodeToString(b)}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// pcm24k is a WAV file as 24 kHz mono PCM16, the Realtime API's format.
func pcm24k(t *testing.T, path string) []byte {
	t.Helper()
	clip, err := audio.DecodeFile(path, audio.UploadLimits(1<<24, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s, err := audio.Prepare(clip, 24000)
	if err != nil {
		t.Fatal(err)
	}
	return audio.EncodePCM16(s)
}
