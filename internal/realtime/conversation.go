package realtime

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/converse"
)

// This file is the conversation side of a realtime session: the history,
// response.create and its events, cancellation and barge-in. Answers are
// made by converse.Respond, the code /v1/converse speaks through.

// maxHistory bounds the messages kept for context, as /v1/converse does.
const maxHistory = 16

// response is one answer in progress, run by its own goroutine.
type response struct {
	id       string
	cancel   context.CancelFunc
	done     chan respResult // buffered: the goroutine never waits on it
	finished chan struct{}   // closed just before response.done is sent
}

type respResult struct {
	text        string
	interrupted bool
}

// canConverse refuses a conversation session the server or the key
// cannot hold.
func (s *session) canConverse() *wireError {
	switch {
	case s.opts.Chat == nil || s.opts.Synthesizer == nil:
		return &wireError{code: apierr.CodeNotReady, param: "session.type",
			message: "conversation sessions need a chat upstream and a synthesizer"}
	case s.who != nil && !s.who.Has(auth.ScopeChatRead):
		return &wireError{code: apierr.CodeForbidden, param: "session.type",
			message: "conversation sessions need a key with the chat.read scope"}
	}
	return nil
}

// remember adds a message to the bounded history.
func (s *session) remember(role, text string) {
	s.history = append(s.history, chat.Message{Role: role, Content: text})
	if over := len(s.history) - maxHistory; over > 0 {
		s.history = slices.Delete(s.history, 0, over)
	}
}

// addItem serves conversation.item.create.
func (s *session) addItem(ctx context.Context, e clientEvent) error {
	if !s.set.conversation {
		return s.sendErr(ctx, e.EventID, &wireError{code: apierr.CodeUnprocessable, param: "type",
			message: "conversation.item.create needs a realtime session (session.type \"realtime\")"})
	}
	role, text, werr := e.Item.text()
	if werr != nil {
		return s.sendErr(ctx, e.EventID, werr)
	}
	s.remember(role, text)
	part := "input_text"
	if role == "assistant" {
		part = "output_text"
	}
	return s.send(ctx, serverEvent{Type: "conversation.item.added", Item: &itemView{ID: newID("item_"), Object: "realtime.item",
		Type: "message", Role: role, Status: "completed", Content: []partView{{Type: part, Text: text}}}})
}

// startResponse serves response.create (and server VAD's own turns).
func (s *session) startResponse(ctx context.Context, eventID string) error {
	switch {
	case !s.set.conversation:
		return s.sendErr(ctx, eventID, &wireError{code: apierr.CodeUnprocessable, param: "type",
			message: "response.create needs a realtime session (session.type \"realtime\")"})
	case s.resp != nil:
		return s.sendErr(ctx, eventID, &wireError{code: apierr.CodeConflict, message: "a response is already in progress"})
	}
	model := s.set.chatModel
	if model == "" {
		model = s.opts.DefaultModel
	}
	if model == "" {
		return s.sendErr(ctx, eventID, badParam("session.model", "name a chat model in session.model (this server has no default)"))
	}
	var msgs []chat.Message
	if s.set.instructions != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: s.set.instructions})
	}
	msgs = append(msgs, s.history...)
	rctx, cancel := context.WithCancel(ctx)
	r := &response{id: newID("resp_"), cancel: cancel, done: make(chan respResult, 1), finished: make(chan struct{})}
	s.resp = r
	set := s.set
	go func() { r.done <- s.respond(ctx, rctx, r, set, model, msgs) }()
	return nil
}

// cancelResponse stops the answer at once (response.cancel, barge-in) and
// waits for its goroutine, which reports it cancelled.
func (s *session) cancelResponse() {
	if s.resp == nil {
		return
	}
	s.resp.cancel()
	s.finishResponse(<-s.resp.done)
	if s.media != nil {
		s.media.ClearAudio() // what the call had queued of the answer
	}
}

// settleResponse takes in a response whose response.done the client may
// have seen, before the client's next event is applied: an item added
// after response.done follows the answer in the history.
func (s *session) settleResponse() {
	if s.resp == nil {
		return
	}
	select {
	case <-s.resp.finished:
		s.finishResponse(<-s.resp.done)
	default:
	}
}

// finishResponse keeps what the answer said in the history.
func (s *session) finishResponse(res respResult) {
	s.resp.cancel()
	s.resp = nil
	if res.text != "" {
		s.remember("assistant", res.text)
	}
}

// respond runs one answer: text deltas as the chat streams, audio deltas
// (24 kHz PCM16, base64) as the synthesizer speaks each sentence, then the
// done events. Cancelled (rctx), it stops and reports status cancelled;
// ctx is the session's, for the closing events.
func (s *session) respond(ctx, rctx context.Context, r *response, set settings, model string, msgs []chat.Message) respResult {
	itemID, zero := newID("item_"), 0
	at := func(e serverEvent) serverEvent {
		e.ResponseID, e.ItemID, e.OutputIndex, e.ContentIndex = r.id, itemID, &zero, &zero
		return e
	}
	partType, deltaType := "output_audio", "response.output_audio_transcript.delta"
	reply := converse.Reply{Chat: s.opts.Chat, Who: s.who, Model: model, Messages: msgs, Voice: s.voice(set), Logger: s.log}
	if set.textOnly {
		partType, deltaType = "output_text", "response.output_text.delta"
	} else {
		reply.Synthesizer = s.opts.Synthesizer
	}
	_ = s.send(rctx, serverEvent{Type: "response.created", Response: &responseView{ID: r.id, Object: "realtime.response", Status: "in_progress", Output: []itemView{}}})
	_ = s.send(rctx, serverEvent{Type: "response.output_item.added", ResponseID: r.id, OutputIndex: &zero,
		Item: &itemView{ID: itemID, Object: "realtime.item", Type: "message", Role: "assistant", Status: "in_progress", Content: []partView{}}})
	_ = s.send(rctx, at(serverEvent{Type: "response.content_part.added", Part: &partView{Type: partType}}))

	out := &audioOut{s: s, ctx: rctx, at: at}
	if !set.textOnly {
		var err error
		if out.rs, err = audio.NewResampler(s.opts.Synthesizer.SampleRate(), outputRate); err != nil {
			out.rs = nil // the synthesizer speaks at 24 kHz already, or cannot be converted
		}
	}
	ans, err := converse.Respond(rctx, reply,
		func(d string) error { return s.send(rctx, at(serverEvent{Type: deltaType, Delta: d})) },
		out.write)
	if rctx.Err() == nil {
		_ = out.flush()
	}
	status := "completed"
	switch {
	case rctx.Err() != nil:
		status = "cancelled"
	case err != nil:
		status = "failed"
		code, msg := apierr.CodeUpstreamError, "the chat upstream failed"
		var ae *apierr.Error
		if errors.As(err, &ae) {
			code, msg = ae.Code, ae.Message
		} else {
			s.log.Warn("realtime: chat failed", "err", err)
		}
		_ = s.sendErr(ctx, "", &wireError{code: code, message: msg})
	}
	text := ans.Text
	part := partView{Type: partType, Transcript: text}
	if set.textOnly {
		part = partView{Type: partType, Text: text}
		_ = s.send(ctx, at(serverEvent{Type: "response.output_text.done", Text: &text}))
	} else {
		_ = s.send(ctx, at(serverEvent{Type: "response.output_audio.done"}))
		_ = s.send(ctx, at(serverEvent{Type: "response.output_audio_transcript.done", Transcript: &text}))
	}
	_ = s.send(ctx, at(serverEvent{Type: "response.content_part.done", Part: &part}))
	itemStatus := "completed"
	if status != "completed" {
		itemStatus = "incomplete"
	}
	item := itemView{ID: itemID, Object: "realtime.item", Type: "message", Role: "assistant", Status: itemStatus, Content: []partView{part}}
	_ = s.send(ctx, serverEvent{Type: "response.output_item.done", ResponseID: r.id, OutputIndex: &zero, Item: &item})
	u := ans.Usage
	close(r.finished)
	_ = s.send(ctx, serverEvent{Type: "response.done", Response: &responseView{ID: r.id, Object: "realtime.response", Status: status,
		Output: []itemView{item}, Usage: &tokenUsage{TotalTokens: u.PromptTokens + u.CompletionTokens, InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}}})
	return respResult{text: text, interrupted: rctx.Err() != nil}
}

// voice resolves the session's voice for the synthesizer ("" default).
func (s *session) voice(set settings) string {
	if s.opts.ResolveVoice == nil || s.opts.Synthesizer == nil {
		return ""
	}
	id, ok := s.opts.ResolveVoice(set.voice, s.opts.Synthesizer.Voices())
	if !ok {
		return ""
	}
	return id
}

// audioOut turns synthesized samples into response.output_audio.delta
// events of 100 ms of 24 kHz PCM16.
type audioOut struct {
	s   *session
	ctx context.Context
	at  func(serverEvent) serverEvent
	rs  *audio.Resampler
	buf []float32
}

const deltaSamples = outputRate / 10

func (o *audioOut) write(samples []float32) error {
	if o.rs != nil {
		samples = o.rs.Process(samples)
	}
	o.buf = append(o.buf, samples...)
	for len(o.buf) >= deltaSamples {
		if err := o.send(o.buf[:deltaSamples]); err != nil {
			return err
		}
		o.buf = o.buf[deltaSamples:]
	}
	return nil
}

func (o *audioOut) flush() error {
	if o.rs != nil {
		o.buf = append(o.buf, o.rs.Flush()...)
	}
	if len(o.buf) == 0 {
		return nil
	}
	err := o.send(o.buf)
	o.buf = nil
	return err
}

func (o *audioOut) send(samples []float32) error {
	if m := o.s.media; m != nil {
		return m.WriteAudio(o.ctx, samples, outputRate)
	}
	b := base64.StdEncoding.EncodeToString(audio.EncodePCM16(samples))
	return o.s.send(o.ctx, o.at(serverEvent{Type: "response.output_audio.delta", Delta: b}))
}
