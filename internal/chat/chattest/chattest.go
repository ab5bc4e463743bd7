// Package chattest owns a test double of an OpenAI-compatible chat server:
// POST /v1/chat/completions (JSON, and Server-Sent Events when "stream" is
// true, with the usage chunk when stream_options.include_usage asks for it)
// and GET /v1/models, on a real 127.0.0.1 listener. It records what each
// request carried (headers included) so tests can assert that nothing
// forwarded leaks the caller's credentials. Only tests import it.
package chattest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Message is one chat message as the wire carries it (text content only).
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is what the double received.
type Request struct {
	Path         string
	Header       http.Header
	Body         []byte
	Model        string
	Messages     []Message
	Stream       bool
	IncludeUsage bool
}

// Options configure a Server. The zero value answers every model with an
// echo of the last user message.
type Options struct {
	// Models listed by GET /v1/models (default ["test-model"]).
	Models []string
	// Reply makes the assistant's answer (default: "You said: <last user
	// message>.").
	Reply func(Request) string
	// Key, when set, is the bearer key every request must carry (401
	// otherwise, in OpenAI's error shape).
	Key string
	// Status, when set, answers every chat request with this status and
	// an OpenAI error body whose message is ErrorMessage.
	Status       int
	ErrorMessage string
	// WordsPerChunk is how many words each streamed chunk carries
	// (default 1).
	WordsPerChunk int
	// BeforeChunk, if set, runs before each streamed content chunk i
	// (from 0); returning an error ends the stream abruptly. Tests use it
	// to pace or hold a stream.
	BeforeChunk func(ctx context.Context, i int) error
	// OmitUsage leaves usage out of every answer (an upstream that does
	// not report it), so callers must estimate.
	OmitUsage bool
}

// Server is a running double.
type Server struct {
	*httptest.Server
	opts Options

	mu       sync.Mutex
	requests []Request
	canceled int
}

// New starts a double on 127.0.0.1; Close it when done.
func New(opts Options) *Server {
	if len(opts.Models) == 0 {
		opts.Models = []string{"test-model"}
	}
	if opts.WordsPerChunk <= 0 {
		opts.WordsPerChunk = 1
	}
	s := &Server{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.models)
	s.Server = httptest.NewServer(mux)
	return s
}

// BaseURL is the API root to configure (".../v1").
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns copies of the chat and model requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Canceled is how many streams ended because the caller went away.
func (s *Server) Canceled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.canceled
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Key == "" || r.Header.Get("Authorization") == "Bearer "+s.opts.Key {
		return true
	}
	writeError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided.")
	return false
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	s.record(Request{Path: r.URL.Path, Header: r.Header.Clone()})
	if !s.authorized(w, r) {
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, m := range s.opts.Models {
		out.Data = append(out.Data, model{ID: m, Object: "model", Created: 1700000000, OwnedBy: "chattest"})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Model         string    `json:"model"`
		Messages      []Message `json:"messages"`
		Stream        bool      `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	req := Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: raw}
	if err := json.Unmarshal(raw, &body); err != nil {
		s.record(req)
		writeError(w, http.StatusBadRequest, "invalid_request_error", "We could not parse the JSON body of your request.")
		return
	}
	req.Model, req.Messages, req.Stream = body.Model, body.Messages, body.Stream
	req.IncludeUsage = body.StreamOptions != nil && body.StreamOptions.IncludeUsage
	s.record(req)
	if !s.authorized(w, r) {
		return
	}
	if s.opts.Status != 0 {
		writeError(w, s.opts.Status, "server_error", s.opts.ErrorMessage)
		return
	}
	reply := "You said: " + lastUser(req.Messages) + "."
	if s.opts.Reply != nil {
		reply = s.opts.Reply(req)
	}
	u := usage{PromptTokens: promptTokens(req.Messages), CompletionTokens: len(strings.Fields(reply))}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	if !req.Stream {
		out := map[string]any{
			"id": "chatcmpl-test", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "logprobs": nil,
				"message": map[string]any{"role": "assistant", "content": reply, "refusal": nil}}},
		}
		if !s.opts.OmitUsage {
			out["usage"] = u
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.stream(w, r, req, reply, u)
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, req Request, reply string, u usage) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	created := time.Now().Unix()
	send := func(choices []any, usage any) bool {
		chunk := map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": created,
			"model": req.Model, "choices": choices}
		if req.IncludeUsage {
			chunk["usage"] = usage
		}
		b, _ := json.Marshal(chunk)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	delta := func(d map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish, "logprobs": nil}}
	}
	if !send(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil) {
		return
	}
	words := strings.Fields(reply)
	for i := 0; i*s.opts.WordsPerChunk < len(words); i++ {
		if s.opts.BeforeChunk != nil {
			if err := s.opts.BeforeChunk(r.Context(), i); err != nil {
				s.noteCanceled(r.Context())
				return
			}
		}
		if r.Context().Err() != nil {
			s.noteCanceled(r.Context())
			return
		}
		end := min((i+1)*s.opts.WordsPerChunk, len(words))
		text := strings.Join(words[i*s.opts.WordsPerChunk:end], " ")
		if i > 0 {
			text = " " + text
		}
		if !send(delta(map[string]any{"content": text}, nil), nil) {
			s.noteCanceled(r.Context())
			return
		}
	}
	if !send(delta(map[string]any{}, "stop"), nil) {
		return
	}
	if req.IncludeUsage && !s.opts.OmitUsage {
		if !send([]any{}, u) {
			return
		}
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

func (s *Server) noteCanceled(ctx context.Context) {
	if ctx.Err() == nil {
		return
	}
	s.mu.Lock()
	s.canceled++
	s.mu.Unlock()
}

func lastUser(msgs []Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return strings.TrimSpace(msgs[i].Content)
		}
	}
	return ""
}

// promptTokens counts words plus one per message: a deterministic stand-in
// for a tokenizer, so tests can predict usage.
func promptTokens(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += 1 + len(strings.Fields(m.Content))
	}
	return n
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": typ}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
