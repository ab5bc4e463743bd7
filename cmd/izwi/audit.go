package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

const auditUsage = `usage: izwi audit COMMAND [flags]

commands:
  verify        recompute the hash chain from genesis and check it against the
                signed checkpoints; exit 0 when intact, 1 naming the first bad entry
                (--export FILE: check a full JSONL export instead of the database)
  export        print entries (--since SEQ: after entry SEQ; --jsonl: JSON lines
                {"seq","hash","prev","event"} that anyone can re-hash)
  checkpoint    write a signed checkpoint of the current head now
  pseudonym IP  print how the log records a remote address, to search an export for it
  prove SEQ     print a proof bundle: entry SEQ, a signed checkpoint and its Merkle
                inclusion proof, for someone who must not see the other entries
  check-proof FILE
                verify a proof bundle with the verifier key (--key); exit 1 if it fails

flags:
`

// runAudit is `izwi audit verify|export|checkpoint`.
func runAudit(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("audit", c.stderr)
	cf := addConfigFlags(fs)
	keyPath := fs.String("key", "", "verifier key file (default <[audit] signer_key_path>.pub); keep a copy off this machine")
	cpPath := fs.String("checkpoints", "", "checkpoint file (default [audit] checkpoint_path)")
	since := fs.Int64("since", 0, "export: only entries after this sequence number")
	jsonl := fs.Bool("jsonl", false, "export: JSON lines instead of tab-separated text")
	asJSON := fs.Bool("json", false, "verify: print the report as JSON")
	exportFile := fs.String("export", "", "verify: check this full JSONL export (izwi audit export --jsonl) instead of the database")
	allowNoCP := fs.Bool("allow-no-checkpoints", false, "verify: accept, loudly, a log that no signed checkpoint covers (nothing anchors it)")
	allowTail := fs.Bool("allow-unanchored-tail", false, "verify: accept, loudly, entries after the last checkpoint (a running server's newest)")
	acceptUnanchored := fs.Bool("accept-unanchored", false, "checkpoint: sign over entries no checkpoint covers yet (after a crash; check them first with verify)")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, auditUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	want := 1 // the command; pseudonym, prove and check-proof take one argument
	if len(pos) > 0 && (pos[0] == "pseudonym" || pos[0] == "prove" || pos[0] == "check-proof") {
		want = 2
	}
	if len(pos) != want {
		fs.Usage()
		return exitUsage
	}
	cfg, _, err := loadConfig(cf, func(cfg *config.Config) error {
		if *cpPath != "" {
			cfg.Audit.CheckpointPath = *cpPath
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitUsage
	}
	if *since < 0 {
		fmt.Fprintln(c.stderr, "izwi audit: --since must not be negative")
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitUsage
	}
	switch pos[0] {
	case "verify", "export", "checkpoint", "prove", "check-proof":
	case "pseudonym":
		p, err := audit.Pseudonym(cfg.Audit.PseudonymKeyPath, pos[1])
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
			return exitFailure
		}
		fmt.Fprintln(c.stdout, p)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "izwi audit: unknown command %q\n\n", pos[0])
		fs.Usage()
		return exitUsage
	}
	kp := *keyPath
	if kp == "" {
		kp = cfg.Audit.SignerKeyPath + ".pub"
	}
	if pos[0] == "check-proof" {
		return auditCheckProof(c, pos[1], kp)
	}
	if pos[0] == "verify" && *exportFile != "" {
		return auditVerify(ctx, c, nil, *exportFile, cfg.Audit.CheckpointPath, kp, *asJSON, accepted(*allowNoCP, *allowTail))
	}
	// Never create a database just to inspect it.
	if f := sqliteFile(cfg.Data); f != "" {
		if _, err := os.Stat(f); err != nil {
			fmt.Fprintf(c.stderr, "izwi audit: no database at %s: %v\n", f, err)
			return exitFailure
		}
	}
	st, err := openStore(ctx, cfg.Data)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	defer st.Close()
	if err := audit.Migrate(ctx, st); err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	switch pos[0] {
	case "verify":
		return auditVerify(ctx, c, st, "", cfg.Audit.CheckpointPath, kp, *asJSON, accepted(*allowNoCP, *allowTail))
	case "export":
		f := audit.Text
		if *jsonl {
			f = audit.JSONL
		}
		if _, err := audit.Export(ctx, st, c.stdout, *since, f); err != nil {
			fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
			return exitFailure
		}
		return exitOK
	case "prove":
		seq, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil || seq < 1 {
			fmt.Fprintf(c.stderr, "izwi audit: prove %q: want an entry number\n", pos[1])
			return exitUsage
		}
		return auditProve(ctx, c, st, cfg, seq, telemetry.Component(logger, "audit"))
	default:
		return auditCheckpoint(ctx, c, st, cfg, telemetry.Component(logger, "audit"), *acceptUnanchored)
	}
}

// auditProve prints a proof bundle for entry seq (writing a checkpoint).
func auditProve(ctx context.Context, c *cli, st *store.Store, cfg config.Config, seq int64, logger *slog.Logger) int {
	opts := audit.OptionsFrom(cfg.Audit, logger)
	opts.NoStartEntry, opts.CheckpointInterval, opts.HeartbeatInterval = true, 0, 0
	l, err := audit.New(ctx, st, opts)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	defer l.Close()
	b, err := l.ProofBundle(ctx, seq)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(c.stdout, string(b))
	return exitOK
}

// auditCheckProof verifies a proof bundle file offline.
func auditCheckProof(c *cli, path, keyPath string) int {
	vkey, err := audit.ReadVerifierKey(keyPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	e, err := audit.CheckProofBundle(b, vkey)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: proof FAILED: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stdout, "entry %d is in the log: %s %s %s %s\n", e.Seq, e.Event.Time.Format(time.RFC3339), e.Event.Actor, e.Event.Action, e.Event.Outcome)
	return exitOK
}

// auditVerify verifies the database st, or the export file when st is nil.
// accepted lists the problem kinds the operator's flags accept.
func accepted(noCheckpoints, unanchoredTail bool) []string {
	var kinds []string
	if noCheckpoints {
		kinds = append(kinds, audit.KindNoCheckpoints)
	}
	if unanchoredTail {
		kinds = append(kinds, audit.KindUnanchored)
	}
	return kinds
}

func auditVerify(ctx context.Context, c *cli, st *store.Store, export, cpPath, keyPath string, asJSON bool, accept []string) int {
	vkey, err := audit.ReadVerifierKey(keyPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v (start izwi serve once to make the keys, or pass --key)\n", err)
		return exitFailure
	}
	raw, err := audit.ReadCheckpoints(cpPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	var rep audit.Report
	if st != nil {
		rep, err = audit.Verify(ctx, st, raw, vkey)
	} else {
		f, ferr := os.Open(export)
		if ferr != nil {
			fmt.Fprintf(c.stderr, "izwi audit: %v\n", ferr)
			return exitFailure
		}
		defer f.Close()
		rep, err = audit.VerifyExport(ctx, f, raw, vkey)
	}
	if err != nil && !errors.Is(err, audit.ErrTampered) {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	if asJSON {
		out := map[string]any{"ok": rep.OK(), "entries": rep.Entries, "verified_from": min(1, rep.Verified),
			"verified_to": rep.Verified, "head": hex.EncodeToString(rep.Head[:]), "checkpoints": rep.Checkpoints,
			"covered": rep.Covered, "longest_silence_s": rep.LongestSilence.Seconds(), "longest_silence_at": rep.LongestSilenceAt,
			"problem": rep.Problem, "bad_checkpoints": rep.BadCheckpoints}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		fmt.Fprintf(c.stdout, "entries:      %d\n", rep.Entries)
		fmt.Fprintf(c.stdout, "verified:     1..%d (head %s)\n", rep.Verified, base64.StdEncoding.EncodeToString(rep.Head[:]))
		fmt.Fprintf(c.stdout, "checkpoints:  %d valid, covering 1..%d\n", rep.Checkpoints, rep.Covered)
		if rep.LongestSilence > 0 {
			fmt.Fprintf(c.stdout, "longest gap:  %s before entry %d\n", rep.LongestSilence.Round(1e9), rep.LongestSilenceAt)
		}
		if rep.Checkpoints == 0 && rep.Entries > 0 {
			fmt.Fprintln(c.stdout, "warning:      no valid checkpoint: a cut-off tail would go unnoticed")
		}
	}
	if rep.OK() {
		fmt.Fprintln(c.stderr, "izwi audit: OK")
		return exitOK
	}
	if rep.OKAccepting(accept...) {
		fmt.Fprintf(c.stderr, "izwi audit: WARNING: ACCEPTED BY FLAG, NOT VERIFIED: %s\n", rep.Problem)
		fmt.Fprintln(c.stderr, "izwi audit: OK only up to the last signed checkpoint; anything past it could be forged")
		return exitOK
	}
	if rep.Problem != nil {
		fmt.Fprintf(c.stderr, "izwi audit: TAMPERED: %s\n", rep.Problem)
	}
	for _, p := range rep.BadCheckpoints {
		fmt.Fprintf(c.stderr, "izwi audit: BAD CHECKPOINT: %s\n", p)
	}
	return exitFailure
}

// auditCheckpoint records who asked and then writes a checkpoint covering
// that entry too.
func auditCheckpoint(ctx context.Context, c *cli, st *store.Store, cfg config.Config, logger *slog.Logger, acceptUnanchored bool) int {
	opts := audit.OptionsFrom(cfg.Audit, logger)
	opts.NoStartEntry, opts.CheckpointInterval, opts.HeartbeatInterval = true, 0, 0
	opts.AcceptUnanchored = acceptUnanchored
	if acceptUnanchored {
		fmt.Fprintln(c.stderr, "izwi audit: WARNING: signing over entries no checkpoint covered; they are vouched for from now on")
	}
	l, err := audit.New(ctx, st, opts)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	defer l.Close()
	details := map[string]string{"via": "cli"}
	if acceptUnanchored {
		details["accepted_unanchored"] = "true"
	}
	if err := l.Record(ctx, audit.Event{Actor: "system", Action: "audit.checkpoint", Outcome: audit.OutcomeOK,
		Details: details}); err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi audit: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stdout, "checkpoint: %d entries, head %s, written to %s\n", cp.Size,
		base64.StdEncoding.EncodeToString(cp.Head[:]), cfg.Audit.CheckpointPath)
	return exitOK
}
