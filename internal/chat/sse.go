package chat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// maxEventBytes bounds one Server-Sent Event from an upstream.
const maxEventBytes = 1 << 20

// errTooLarge means an upstream answer passed max_response_bytes.
var errTooLarge = errors.New("chat: upstream answer larger than chat.max_response_bytes")

// event is one Server-Sent Event as the upstream sent it: raw is every
// line of it, blank terminator included, so it can be passed through
// byte for byte; data is its data lines joined.
type event struct {
	raw  []byte
	data []byte
}

// done reports the OpenAI end-of-stream marker.
func (e event) done() bool { return bytes.Equal(bytes.TrimSpace(e.data), []byte("[DONE]")) }

// readEvents reads r as an event stream and calls fn for each event, until
// EOF, fn's error, or more than limit bytes in all. Lines may end in \n or
// \r\n; comments and other fields pass through in raw.
func readEvents(r io.Reader, limit int64, fn func(event) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var raw, data []byte
	var total int64
	hasData := false
	flush := func() error {
		if len(raw) == 0 {
			return nil
		}
		ev := event{raw: raw, data: data}
		raw, data, hasData = nil, nil, false
		return fn(ev)
	}
	for {
		line, err := readLine(br)
		total += int64(len(line))
		if total > limit {
			return errTooLarge
		}
		if len(line) > 0 {
			raw = append(raw, line...)
			if len(raw) > maxEventBytes {
				return errTooLarge
			}
			content := bytes.TrimRight(line, "\r\n")
			switch {
			case len(content) == 0:
				if ferr := flush(); ferr != nil {
					return ferr
				}
			case bytes.HasPrefix(content, []byte("data:")):
				v := bytes.TrimPrefix(content[5:], []byte(" "))
				if hasData {
					data = append(data, '\n')
				}
				data, hasData = append(data, v...), true
			}
		}
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
	}
}

// readLine reads one line, refusing one longer than maxEventBytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > maxEventBytes {
			return nil, errTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

// chunk is what the proxy reads of a streamed chat.completion.chunk.
type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *Usage          `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// parseChunk reads an event's data; ok is false for data that is not a
// JSON object (a keep-alive, [DONE]).
func parseChunk(data []byte) (c chunk, ok bool) {
	if len(data) == 0 || data[0] != '{' {
		return c, false
	}
	return c, json.Unmarshal(data, &c) == nil
}

// text is the content a chunk adds.
func (c chunk) text() string {
	if len(c.Choices) == 0 {
		return ""
	}
	return c.Choices[0].Delta.Content
}

// usageOnly is the final chunk include_usage adds: no choices, a usage.
func (c chunk) usageOnly() bool { return len(c.Choices) == 0 && c.Usage != nil }
