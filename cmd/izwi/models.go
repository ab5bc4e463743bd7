package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/speech"
)

const modelsUsage = `usage: izwi models COMMAND [flags] [args]

commands:
  list                 show every catalogued model and whether it is installed and intact
  verify [NAME...]     hash every file of the named (default: every present) model
  pull NAME...         download, verify and install models (resumes partial downloads)
  import SRC [NAME]    install from a directory or .tar/.tar.gz/.tar.bz2 (air-gapped hosts);
                       without NAME, every complete catalogued model found in SRC

flags:
`

// runModels is `izwi models list|verify|pull|import`.
func runModels(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("models", c.stderr)
	cf := addConfigFlags(fs)
	// --dir is the short spelling of --models-dir for this command.
	fs.StringVar(&cf.modelsDir, "dir", "", "models directory (same as --models-dir; default [data] models_dir, env IZWI_MODELS_DIR)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, modelsUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) == 0 {
		fs.Usage()
		return exitUsage
	}
	cfg, _, err := loadConfig(cf, func(cfg *config.Config) error {
		if cf.set("dir") {
			cfg.Data.ModelsDir = cf.modelsDir
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi models: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi models: %v\n", err)
		return exitUsage
	}
	store, err := openModelStore(cfg, logger)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		if errors.Is(err, models.ErrCatalog) { // e.g. its signature does not verify
			return exitModel
		}
		return exitFailure
	}
	cmd, rest := pos[0], pos[1:]
	switch cmd {
	case "list":
		if len(rest) != 0 {
			fs.Usage()
			return exitUsage
		}
		return modelsList(ctx, c, store, *asJSON)
	case "verify":
		return modelsVerify(ctx, c, store, rest, *asJSON)
	case "pull":
		if len(rest) == 0 {
			fmt.Fprintln(c.stderr, "izwi models pull: name at least one model (see `izwi models list`)")
			return exitUsage
		}
		return modelsPull(ctx, c, store, rest)
	case "import":
		if len(rest) < 1 || len(rest) > 2 {
			fmt.Fprintln(c.stderr, "izwi models import: want SRC [NAME]")
			return exitUsage
		}
		name := ""
		if len(rest) == 2 {
			name = rest[1]
		}
		return modelsImport(ctx, c, store, rest[0], name, *asJSON)
	}
	fmt.Fprintf(c.stderr, "izwi models: unknown command %q\n\n", cmd)
	fs.Usage()
	return exitUsage
}

// modelsExit maps an error to the shared exit codes.
func modelsExit(c *cli, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(c.stderr, "izwi models: canceled")
		return exitCanceled
	case errors.Is(err, speech.ErrModel), errors.Is(err, models.ErrUnsafeArchive), errors.Is(err, models.ErrCatalog):
		fmt.Fprintf(c.stderr, "izwi: %v\n", err)
		return exitModel
	default:
		fmt.Fprintf(c.stderr, "izwi: %v\n", err)
		return exitFailure
	}
}

func pinSummary(st models.Status) string {
	pinned := 0
	for _, f := range st.Files {
		if f.Pinned {
			pinned++
		}
	}
	if pinned == len(st.Files) {
		return "pinned"
	}
	return fmt.Sprintf("unpinned (%d/%d files pinned)", pinned, len(st.Files))
}

func printStatuses(w io.Writer, sts []models.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENGINE\tFAMILY\tSTATE\tHASHES\tSIZE")
	for _, st := range sts {
		var size int64
		for _, f := range st.Files {
			size += f.Size
		}
		sz := "-"
		if size > 0 {
			sz = fmt.Sprintf("%.1f MB", float64(size)/1e6)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", st.Name, st.Engine, st.Family, st.State, pinSummary(st), sz)
	}
	tw.Flush()
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func modelsList(ctx context.Context, c *cli, s *models.Store, asJSON bool) int {
	sts := s.List(ctx)
	if ctx.Err() != nil {
		return modelsExit(c, ctx.Err())
	}
	if asJSON {
		writeJSON(c.stdout, sts)
	} else {
		printStatuses(c.stdout, sts)
	}
	return exitOK
}

func modelsVerify(ctx context.Context, c *cli, s *models.Store, names []string, asJSON bool) int {
	explicit := len(names) > 0
	if !explicit {
		names = s.Catalog.Names()
	}
	// The catalogue first: its pins are only worth what its signature is.
	sig, err := models.EmbeddedSignature()
	if err != nil {
		return modelsExit(c, err)
	}
	if !asJSON {
		fmt.Fprintf(c.stdout, "catalogue: good signature by key %s (%s)\n", sig.KeyID, sig.TrustedComment)
	}
	var sts []models.Status
	code := exitOK
	for _, n := range names {
		st, err := s.Verify(ctx, n)
		if ctx.Err() != nil {
			return modelsExit(c, ctx.Err())
		}
		if !explicit && st.State == models.ModelMissing {
			continue // only verify what is present unless asked by name
		}
		sts = append(sts, st)
		if err != nil {
			code = modelsExit(c, err)
		} else if !asJSON {
			fmt.Fprintf(c.stdout, "%s: %s\n", n, st.State)
		}
	}
	if asJSON {
		writeJSON(c.stdout, sts)
	}
	return code
}

func modelsPull(ctx context.Context, c *cli, s *models.Store, names []string) int {
	for _, n := range names {
		var bar *progressbar.ProgressBar
		progress := func(done, total int64) {}
		if c.isTTY {
			progress = func(done, total int64) {
				if bar == nil {
					max := total
					if max <= 0 {
						max = -1
					}
					bar = progressbar.NewOptions64(max, progressbar.OptionSetWriter(c.stderr),
						progressbar.OptionShowBytes(true), progressbar.OptionSetDescription(n),
						progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
				}
				_ = bar.Set64(done)
			}
		} else {
			fmt.Fprintf(c.stderr, "izwi models: pulling %s\n", n)
		}
		err := s.Pull(ctx, n, progress)
		if bar != nil {
			_ = bar.Finish()
		}
		if err != nil {
			return modelsExit(c, err)
		}
		st, err := s.Verify(ctx, n)
		if err != nil {
			return modelsExit(c, err)
		}
		fmt.Fprintf(c.stdout, "%s: %s\n", n, st.State)
		warnUnpinned(c, st)
	}
	return exitOK
}

func warnUnpinned(c *cli, st models.Status) {
	var paths []string
	for _, f := range st.Files {
		if !f.Pinned {
			paths = append(paths, f.Path)
		}
	}
	if len(paths) > 0 {
		fmt.Fprintf(c.stderr, "izwi models: warning: %s has no published hash for %s; the hash seen now was recorded and will be checked from now on\n",
			st.Name, strings.Join(paths, ", "))
	}
}

func modelsImport(ctx context.Context, c *cli, s *models.Store, src, name string, asJSON bool) int {
	got, err := s.Import(ctx, src, name)
	if err != nil {
		return modelsExit(c, err)
	}
	var sts []models.Status
	for _, n := range got {
		st, err := s.Verify(ctx, n)
		if err != nil {
			return modelsExit(c, err)
		}
		sts = append(sts, st)
		if !asJSON {
			fmt.Fprintf(c.stdout, "%s: imported, %s\n", n, st.State)
			warnUnpinned(c, st)
		}
	}
	if asJSON {
		writeJSON(c.stdout, sts)
	}
	return exitOK
}
