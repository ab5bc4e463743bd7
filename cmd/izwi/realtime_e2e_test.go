package main

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/realtime"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
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

// A Realtime conversation session on a real izwi serve in front of the
// chat upstream double, driven by openai-go unmodified: a spoken question
// (synthesized by the same server) becomes a user turn, server VAD answers
// it through the upstream with Izwi's voice (transcript and audio deltas,
// response.done completed), a text item and response.create answer again
// with the history, and an asr.read-only key cannot converse.
func TestRealtimeConversationEndToEnd(t *testing.T) {
	up := chattest.New(chattest.Options{Key: chatUpstreamKey, Reply: func(chattest.Request) string { return chatReply }})
	defer up.Close()
	env := chatEnv(t, up)
	key := newKey(t, env, "--name", "rt", "--scopes", "asr.read,chat.read,tts.read")
	asrKey := newKey(t, env, "--name", "asr", "--scopes", "asr.read")
	s := startServe(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	question := speechPCM(t, s.url, key, chatPrompt)

	update := realtime.RealtimeClientEventUnionParam{OfSessionUpdate: &realtime.SessionUpdateEventParam{
		Session: realtime.SessionUpdateEventSessionUnionParam{OfRealtime: &realtime.RealtimeSessionCreateRequestParam{
			Model: "test-model", Instructions: openai.String("Answer in one sentence."),
			Audio: realtime.RealtimeAudioConfigParam{Output: realtime.RealtimeAudioConfigOutputParam{
				Voice: realtime.RealtimeAudioConfigOutputVoiceUnionParam{OfString: openai.String("alloy")}}},
		}}}}

	asrOnly := openaiClient(s.url, asrKey)
	conn, err := asrOnly.Realtime.Connect(ctx, realtime.RealtimeConnectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(ctx, t, conn, "session.created")
	if err := conn.Send(ctx, update); err != nil {
		t.Fatal(err)
	}
	if e := expect(ctx, t, conn, "error").AsRealtimeErrorEvent().Error; e.Code != "forbidden" {
		t.Errorf("an asr.read key asked for a conversation: %+v", e)
	}
	conn.Close()

	c := openaiClient(s.url, key)
	conn, err = c.Realtime.Connect(ctx, realtime.RealtimeConnectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	expect(ctx, t, conn, "session.created")
	if err := conn.Send(ctx, update); err != nil {
		t.Fatal(err)
	}
	if raw := expect(ctx, t, conn, "session.updated").RawJSON(); !strings.Contains(raw, `"type":"realtime"`) {
		t.Errorf("session.updated %s", raw)
	}
	appendAudio(ctx, t, conn, question)
	appendAudio(ctx, t, conn, make([]byte, 2*24000*2)) // 2 s of silence ends the turn
	heard, said, audioBytes := answer(ctx, t, conn)
	if !strings.Contains(heard, "zebra") || said != chatReply || audioBytes < 2*24000/2 {
		t.Errorf("heard %q, answered %q with %d bytes of audio", heard, said, audioBytes)
	}

	err = conn.Send(ctx, realtime.RealtimeClientEventUnionParam{OfConversationItemCreate: &realtime.ConversationItemCreateEventParam{
		Item: realtime.ConversationItemUnionParam{OfRealtimeUserMessageItem: &realtime.RealtimeConversationItemUserMessageParam{
			Content: []realtime.RealtimeConversationItemUserMessageContentParam{{Type: "input_text", Text: openai.String("And horses?")}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	expect(ctx, t, conn, "conversation.item.added")
	if err := conn.Send(ctx, realtime.RealtimeClientEventUnionParam{OfResponseCreate: &realtime.ResponseCreateEventParam{}}); err != nil {
		t.Fatal(err)
	}
	if _, said, _ := answer(ctx, t, conn); said != chatReply {
		t.Errorf("second answer %q", said)
	}
	reqs := up.Requests()
	last := reqs[len(reqs)-1].Messages
	if len(last) != 4 || last[0].Role != "system" || last[3].Content != "And horses?" || last[2].Content != chatReply {
		t.Errorf("the upstream got %+v, want instructions, the spoken question, the answer and the new text", last)
	}
}

// answer reads one turn: what was heard (the user's transcript, if any),
// the answer's transcript and its audio bytes, until response.done.
func answer(ctx context.Context, t *testing.T, conn *realtime.RealtimeConnection) (heard, said string, audioBytes int) {
	t.Helper()
	var deltas strings.Builder
	for {
		ev := recv(ctx, t, conn)
		switch ev.Type {
		case "conversation.item.input_audio_transcription.completed":
			heard += ev.AsConversationItemInputAudioTranscriptionCompletedEvent().Transcript
		case "response.output_audio_transcript.delta":
			deltas.WriteString(ev.AsResponseAudioTranscriptDeltaEvent().Delta)
		case "response.output_audio.delta":
			b, err := base64.StdEncoding.DecodeString(ev.AsResponseAudioDeltaEvent().Delta)
			if err != nil {
				t.Fatal(err)
			}
			audioBytes += len(b)
		case "error":
			t.Fatalf("error event: %+v", ev.AsRealtimeErrorEvent().Error)
		case "response.done":
			r := ev.AsResponseDoneEvent().Response
			if r.Status != "completed" {
				t.Errorf("response %s", r.Status)
			}
			return heard, deltas.String(), audioBytes
		}
	}
}

// speechPCM is text spoken by the server's own synthesizer as 24 kHz PCM16.
func speechPCM(t *testing.T, url, key, text string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/audio/speech",
		strings.NewReader(`{"model":"tts-1","voice":"alloy","input":"`+text+`","response_format":"pcm"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pcm, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(pcm) < 16000 {
		t.Fatalf("speech: %d, %d bytes", resp.StatusCode, len(pcm))
	}
	return pcm
}
