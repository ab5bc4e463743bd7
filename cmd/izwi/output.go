package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/izwi-speech/izwi/internal/transcript"
)

// fileDoc is one element of the JSON array written for several files.
type fileDoc struct {
	File string `json:"file"`
	transcript.Doc
}

// writeResults renders results to outPath (stdout when empty). Several
// files give one block per file: a "==> FILE <==" header before each in
// txt, srt and vtt, and a JSON array in json.
func writeResults(stdout io.Writer, outPath string, format transcript.Format, results []fileResult, many bool) error {
	var buf bytes.Buffer
	switch {
	case format == transcript.JSON && many:
		docs := make([]fileDoc, len(results))
		for i, r := range results {
			docs[i] = fileDoc{File: r.path, Doc: transcript.ToDoc(r.tr)}
		}
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(docs); err != nil {
			return fmt.Errorf("izwi: encoding json: %w", err)
		}
	default:
		for i, r := range results {
			if many {
				if i > 0 {
					buf.WriteByte('\n')
				}
				fmt.Fprintf(&buf, "==> %s <==\n", r.path)
			}
			if err := transcript.Write(&buf, format, r.tr); err != nil {
				return err
			}
		}
	}
	if outPath == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	// Transcripts are personal data: the file is readable by its owner only.
	if err := os.WriteFile(outPath, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("izwi: writing output: %w", err)
	}
	return nil
}

// oneLine flattens an error for a one-line message on stderr.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
