package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/izwi-speech/izwi/internal/transcript"
)

// progressAfter is how long a file must be before a progress bar is worth
// showing; shorter ones finish before a bar would be read.
const progressAfter = 10 * time.Second

// fileResult is one transcribed file.
type fileResult struct {
	path string
	tr   speech.Transcript
}

func runTranscribe(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("transcribe", c.stderr)
	cf := addConfigFlags(fs)
	engine := fs.String("engine", "", "transcription engine (overrides [engines.transcribe] engine)")
	model := fs.String("model", "", "model name (overrides [engines.transcribe] model)")
	formatName := fs.String("format", "txt", "output format: txt, json, srt, vtt, docx or pdf")
	outPath := fs.String("o", "", "write to this file instead of stdout")
	language := fs.String("language", "", "language hint, for engines that use one")
	contextFile := fs.String("context", "", "prepared text: a TXT, Markdown, DOCX or PDF file of what is expected to be said (readings, names, notes)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: izwi transcribe [flags] FILE...\n\nflags:")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	format, err := transcript.ParseFormat(*formatName)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", err)
		return exitUsage
	}
	if (format == transcript.DOCX || format == transcript.PDF) && len(files) > 1 {
		fmt.Fprintf(c.stderr, "izwi transcribe: a %s document holds one file's transcript: transcribe one file at a time\n", format)
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(c.stderr, "izwi transcribe: no input files")
		fs.Usage()
		return exitUsage
	}
	cfg, askedLevel, err := loadConfig(cf, func(cfg *config.Config) error {
		return cfg.SetRole("transcribe", *engine, *model)
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", err)
		return exitUsage
	}
	if err := checkModelFlag(cfg, "transcribe", *model); err != nil {
		fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", err)
		return exitUsage
	}
	// A command-line tool stays quiet on stderr unless asked.
	level := "warn"
	if askedLevel != "" {
		level = cfg.Log.Level
	}
	logger, err := newLogger(c.stderr, level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", err)
		return exitUsage
	}

	prepared, rc := readContext(c, *contextFile)
	if rc != exitOK {
		return rc
	}
	var tr speech.Transcriber
	var results []fileResult
	code := exitOK
	for _, path := range files {
		if ctx.Err() != nil {
			break
		}
		clip, err := audio.DecodeFileContext(ctx, path, audio.Limits{})
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi transcribe: %s: %v\n", path, oneLine(err))
			code = exitInput
			continue
		}
		if tr == nil { // load the engine only once there is audio to give it
			set, rc := loadTranscriber(ctx, c, cfg, logger)
			if rc != exitOK {
				return rc
			}
			defer set.Close()
			tr = set.Transcriber
		}
		samples, err := audio.Prepare(clip, tr.SampleRate())
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi transcribe: %s: %v\n", path, oneLine(err))
			code = exitInput
			continue
		}
		opts := speech.TranscribeOptions{Language: *language, Prompt: prepared}
		var bar *progressbar.ProgressBar
		if c.isTTY && clip.Duration() > progressAfter {
			bar = progressbar.NewOptions64(clip.Duration().Milliseconds(),
				progressbar.OptionSetWriter(c.stderr), progressbar.OptionSetDescription(filepath.Base(path)),
				progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
			opts.Progress = func(done time.Duration) { _ = bar.Set64(done.Milliseconds()) }
		}
		t, err := tr.Transcribe(ctx, samples, opts)
		if bar != nil {
			_ = bar.Finish()
		}
		switch {
		case ctx.Err() != nil:
			fmt.Fprintln(c.stderr, "izwi transcribe: canceled")
			return exitCanceled
		case errors.Is(err, speech.ErrModel):
			fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", oneLine(err))
			return exitModel
		case errors.Is(err, speech.ErrBadAudio):
			fmt.Fprintf(c.stderr, "izwi transcribe: %s: %v\n", path, oneLine(err))
			code = exitInput
			continue
		case err != nil:
			fmt.Fprintf(c.stderr, "izwi transcribe: %s: %v\n", path, oneLine(err))
			return exitFailure
		}
		if t.Duration == 0 {
			t.Duration = clip.Duration()
		}
		results = append(results, fileResult{path: path, tr: t})
	}
	if ctx.Err() != nil {
		fmt.Fprintln(c.stderr, "izwi transcribe: canceled")
		return exitCanceled
	}
	if len(results) > 0 {
		if err := writeResults(c.stdout, *outPath, format, results, len(files) > 1); err != nil {
			fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", err)
			return exitFailure
		}
	}
	return code
}

// loadTranscriber loads only the transcribe role, as required.
func loadTranscriber(ctx context.Context, c *cli, cfg config.Config, logger *slog.Logger) (*engines.Set, int) {
	role, _ := cfg.Role("transcribe")
	if role.Off() {
		fmt.Fprintln(c.stderr, "izwi transcribe: the transcribe engine is off; set --engine or [engines.transcribe]")
		return nil, exitUsage
	}
	role.Required = true
	store, err := openModelStore(cfg, logger)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", err)
		return nil, exitFailure
	}
	set, err := engines.LoadChained(ctx, newRegistry(), engineDeps(store, logger),
		newChainer(cfg.Engines.Failover, telemetry.Component(logger, "chain")), []config.NamedRole{cfg.Engines.Named("transcribe", role)})
	switch {
	case err == nil:
		return set, exitOK
	case ctx.Err() != nil:
		return nil, exitCanceled
	case errors.Is(err, speech.ErrUnknownEngine):
		fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", oneLine(err))
		return nil, exitUsage
	default:
		fmt.Fprintf(c.stderr, "izwi transcribe: %v\n", oneLine(err))
		return nil, exitModel
	}
}

// readContext reads --context: a document of prepared text (exit 3 when it
// cannot be read as one).
func readContext(c *cli, path string) (string, int) {
	if path == "" {
		return "", exitOK
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi transcribe: --context: %v\n", oneLine(err))
		return "", exitInput
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, prepare.MaxUploadBytes+1))
	if err == nil {
		var text string
		if text, err = prepare.Extract(path, data); err == nil {
			return text, exitOK
		}
	}
	fmt.Fprintf(c.stderr, "izwi transcribe: --context %s: %v\n", path, oneLine(err))
	return "", exitInput
}

// checkModelFlag refuses a --model that names no catalogued model or one
// made for another engine, before any audio is read: a model flag is never
// silently ignored.
func checkModelFlag(cfg config.Config, role, model string) error {
	if model == "" {
		return nil
	}
	cat, err := loadCatalog(cfg)
	if err != nil {
		return err
	}
	e, ok := cat.Lookup(model)
	if !ok {
		return fmt.Errorf("--model %q is not in the model catalogue (see `izwi models list`)", model)
	}
	r, _ := cfg.Role(role)
	if e.Engine != r.Engine {
		return fmt.Errorf("--model %q is a %s model; the %s engine is %q (pass --engine %s)", model, e.Engine, role, r.Engine, e.Engine)
	}
	return nil
}
