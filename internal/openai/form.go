package openai

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/finite"
	"github.com/izwi-speech/izwi/internal/prepare"
)

// Bounds on the non-file parts of a transcription form: OpenAI's fields are
// short, so anything bigger is refused instead of buffered.
const (
	maxFieldBytes = 16 << 10
	// maxPromptBytes admits a prepared text as the prompt.
	maxPromptBytes = prepare.MaxTextBytes
	maxParts       = 64
)

// transcriptionRequest is a parsed POST /v1/audio/transcriptions form.
type transcriptionRequest struct {
	File []byte
	// FileType is the Content-Type the file part claimed ("" if none).
	FileType    string
	Model       string
	Language    string
	Prompt      string
	Format      string // json, text, srt, vtt, verbose_json
	Temperature float64
	Words       bool // timestamp_granularities includes word
	Segments    bool // ... includes segment (the default)
	Stream      bool
	Task        string // "transcribe" or "translate"
	// SpeakerNames are known_speaker_names[] (diarized_json): enrolled
	// people to look for; References counts known_speaker_references[]
	// parts, which are refused and never read.
	SpeakerNames []string
	References   int
}

// reqError is a refusal with its catalogue code and a sentence for the caller.
type reqError struct {
	code apierr.Code
	msg  string
}

func (e *reqError) Error() string { return "openai: " + string(e.code) + ": " + e.msg }

func bad(format string, args ...any) *reqError {
	return &reqError{apierr.CodeBadRequest, fmt.Sprintf(format, args...)}
}

// clip shortens a caller-supplied value before it is quoted in an error.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// responseFormats are the transcription formats served, in OpenAI's names.
var responseFormatNames = []string{"json", "text", "srt", "verbose_json", "vtt", "diarized_json"}

// parseTranscriptionForm reads a multipart body part by part: the file is
// read into memory up to maxFile bytes (a larger one is a 413 before the
// rest is read), other fields up to maxFieldBytes. Unknown fields (OpenAI
// adds new ones: include[], chunking_strategy...) are read and ignored.
func parseTranscriptionForm(body io.Reader, boundary string, maxFile int64) (transcriptionRequest, error) {
	req := transcriptionRequest{Format: "json"}
	mr := multipart.NewReader(body, boundary)
	var granularities []string
	var haveFile bool
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, tooLargeOr(err, bad("the multipart body is malformed: %s", clip(err.Error())))
		}
		if parts >= maxParts {
			return req, bad("the form has more than %d parts", maxParts)
		}
		name := p.FormName()
		if name == "file" {
			if haveFile {
				return req, bad("the form has more than one file")
			}
			haveFile = true
			b, err := io.ReadAll(io.LimitReader(p, maxFile+1))
			if err != nil {
				return req, tooLargeOr(err, bad("reading the file: %s", clip(err.Error())))
			}
			if int64(len(b)) > maxFile {
				return req, &reqError{apierr.CodePayloadTooLarge, fmt.Sprintf("the file is larger than %d bytes", maxFile)}
			}
			req.File, req.FileType = b, p.Header.Get("Content-Type")
			continue
		}
		if name == "known_speaker_references[]" || name == "known_speaker_references" {
			req.References++ // refused (checkDiarization); the part is skipped unread
			continue
		}
		limit := maxFieldBytes
		if name == "prompt" {
			limit = maxPromptBytes // prepared text (docs/prepared-text.md)
		}
		b, err := io.ReadAll(io.LimitReader(p, int64(limit)+1))
		if err != nil {
			return req, tooLargeOr(err, bad("reading field %q: %s", clip(name), clip(err.Error())))
		}
		if len(b) > limit {
			return req, bad("field %q is longer than %d bytes", clip(name), limit)
		}
		v := strings.TrimSpace(string(b))
		switch name {
		case "model":
			req.Model = v
		case "language":
			req.Language = v
		case "prompt":
			req.Prompt = v
		case "response_format":
			req.Format = strings.ToLower(v)
		case "temperature":
			t, err := finite.In(v, 0, 1)
			if err != nil {
				return req, bad("temperature must be a number from 0 to 1")
			}
			req.Temperature = t
		case "timestamp_granularities[]", "timestamp_granularities":
			granularities = append(granularities, strings.ToLower(v))
		case "known_speaker_names[]", "known_speaker_names":
			if len(req.SpeakerNames) == maxKnownSpeakers {
				return req, bad("known_speaker_names[] names at most %d people", maxKnownSpeakers)
			}
			if v == "" || len(v) > maxSpeakerName {
				return req, bad("a known_speaker_names[] entry must be 1–%d bytes", maxSpeakerName)
			}
			req.SpeakerNames = append(req.SpeakerNames, v)
		case "stream":
			s, err := strconv.ParseBool(v)
			if err != nil {
				return req, bad("stream must be true or false")
			}
			req.Stream = s
		}
	}
	if !haveFile {
		return req, bad("the form has no file part; send the audio as multipart field \"file\"")
	}
	if req.Format == "" {
		req.Format = "json"
	}
	if !slices.Contains(responseFormatNames, req.Format) {
		return req, bad("response_format %q is not supported; use one of %s", clip(req.Format), strings.Join(responseFormatNames, ", "))
	}
	for _, g := range granularities {
		switch g {
		case "word":
			req.Words = true
		case "segment":
			req.Segments = true
		default:
			return req, bad("timestamp_granularities[] %q is not supported; use word or segment", clip(g))
		}
	}
	if len(granularities) == 0 {
		req.Segments = true
	}
	return req, nil
}

// tooLargeOr maps the body limit (http.MaxBytesReader) to 413 and anything
// else to other.
func tooLargeOr(err error, other *reqError) *reqError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || strings.Contains(err.Error(), "request body too large") {
		return &reqError{apierr.CodePayloadTooLarge, "the request body is too large"}
	}
	return other
}
