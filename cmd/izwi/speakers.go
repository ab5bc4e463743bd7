package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/speakers"
)

const speakersUsage = `usage: izwi speakers COMMAND [flags] [ID|NAME]

The people whose voices live captions may name: their recorded consent and
their voiceprints, sealed in the privacy vault. Every change and every
export is audited (actor "system:cli").

commands:
  list              subjects (erased ones as tombstones), consents, voiceprints
  script            print the consent text a subject reads while recording
  enrol FILE        enrol --name from a recording (WAV/FLAC/MP3) of them reading
                    the script; needs --consent-given, --operator and the
                    configured speaker and vad engines
  export ID|NAME    what is held about one subject, as JSON (GDPR access):
                    name, consent records with evidence; never voiceprints
  withdraw ID|NAME  the subject withdraws consent: voiceprints destroyed now
  delete ID|NAME    erase a subject: their data key is shredded, so name,
                    consent evidence and voiceprints are unreadable for good

flags:
`

// runSpeakers is `izwi speakers ...`.
func runSpeakers(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("speakers", c.stderr)
	cf := addConfigFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	name := fs.String("name", "", "enrol: the subject's name, as captions will show it")
	version := fs.String("consent-version", "v1", "enrol, script: the consent text version read")
	method := fs.String("method", string(consent.MethodPaper), "enrol: how consent was given: spoken_script, typed_signature or paper")
	typed := fs.String("typed-name", "", "enrol: the subject's typed name, for method typed_signature")
	operator := fs.String("operator", "", "enrol: who took the enrolment (e.g. user:alice)")
	given := fs.Bool("consent-given", false, "enrol: the subject gave explicit consent (required)")
	fs.Usage = func() { fmt.Fprint(c.stderr, speakersUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil || len(pos) == 0 {
		fs.Usage()
		return exitUsage
	}
	sub, rest := pos[0], pos[1:]
	if sub == "script" {
		text, ok := speakers.Script(*version)
		if !ok {
			fmt.Fprintf(c.stderr, "izwi speakers: no consent text %q\n", *version)
			return exitUsage
		}
		fmt.Fprintln(c.stdout, text)
		return exitOK
	}
	want := map[string]int{"list": 0, "enrol": 1, "export": 1, "withdraw": 1, "delete": 1}
	if n, ok := want[sub]; !ok || len(rest) != n {
		fs.Usage()
		return exitUsage
	}
	cfg, _, err := loadConfig(cf, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers: %v\n", err)
		return exitUsage
	}
	db, err := openStore(ctx, cfg.Data)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers: %v\n", err)
		return exitFailure
	}
	defer db.Close()
	alog, err := openAuditTool(ctx, db, cfg, logger)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers: %v\n", err)
		return exitFailure
	}
	defer alog.Close()
	kr, err := openVault(ctx, cfg, db, alog, logger)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers: %v\n", err)
		return exitFailure
	}
	cs, err := consent.New(ctx, consent.Options{Store: db, Vault: kr, Audit: alog, Logger: logger})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers: %v\n", err)
		return exitFailure
	}
	reg, err := speakers.New(ctx, speakers.Options{Store: db, Vault: kr, Consent: cs, Audit: alog})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers: %v\n", err)
		return exitFailure
	}
	ctx = speakers.WithActor(ctx, "system:cli")
	switch sub {
	case "list":
		list, err := reg.List(ctx)
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi speakers list: %v\n", err)
			return exitFailure
		}
		if *asJSON {
			writeJSON(c.stdout, list)
			return exitOK
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCONSENT\tVOICEPRINTS\tCREATED\tERASED")
		for _, s := range list {
			consent, erased := "-", "-"
			if n := len(s.Consents); n > 0 {
				consent = string(s.Consents[n-1].Status) + " until " + s.Consents[n-1].Deadline.Format(time.DateOnly)
			}
			if s.ErasedAt != nil {
				erased = s.ErasedAt.Format(time.DateOnly) + " " + s.EraseReason
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, s.Name, consent, len(s.Voiceprints), s.CreatedAt.Format(time.DateOnly), erased)
		}
		tw.Flush()
	case "export", "withdraw", "delete":
		s, err := findSubject(ctx, reg, rest[0])
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi speakers %s: %v\n", sub, err)
			return exitFailure
		}
		if sub == "export" {
			ex, err := reg.ExportSubject(ctx, s.ID)
			if err != nil {
				fmt.Fprintf(c.stderr, "izwi speakers export: %v\n", err)
				return exitFailure
			}
			writeJSON(c.stdout, ex)
			return exitOK
		}
		if sub == "withdraw" {
			if err := reg.Withdraw(ctx, s.ID); err != nil {
				fmt.Fprintf(c.stderr, "izwi speakers withdraw: %v\n", err)
				return exitFailure
			}
			fmt.Fprintf(c.stdout, "consent of %s withdrawn: data key shredded, voiceprints deleted\n", s.ID)
			return exitOK
		}
		if err := reg.Erase(ctx, s.ID); err != nil {
			fmt.Fprintf(c.stderr, "izwi speakers delete: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(c.stdout, "erased %s: data key shredded, voiceprints deleted, consent records erased\n", s.ID)
	case "enrol":
		return enrolFromFile(ctx, c, cfg, reg, rest[0], speakers.EnrolRequest{Name: *name,
			Consent: speakers.ConsentInput{TextVersion: *version, Method: consent.Method(*method), Operator: *operator,
				Granted: *given, TypedName: *typed}}, *asJSON)
	}
	return exitOK
}

// findSubject resolves a subject id (sub_...) or a unique live name.
func findSubject(ctx context.Context, reg *speakers.Registry, arg string) (speakers.Subject, error) {
	if strings.HasPrefix(arg, "sub_") {
		return reg.Get(ctx, arg)
	}
	found, err := reg.FindByName(ctx, arg)
	if err != nil {
		return speakers.Subject{}, err
	}
	switch len(found) {
	case 0:
		return speakers.Subject{}, speakers.ErrNotFound
	case 1:
		return found[0], nil
	}
	return speakers.Subject{}, fmt.Errorf("%d subjects are called %q; name one by id (izwi speakers list)", len(found), arg)
}

// enrolFromFile loads the speaker and vad engines, measures the speech in
// the recording and enrols it.
func enrolFromFile(ctx context.Context, c *cli, cfg config.Config, reg *speakers.Registry, path string, req speakers.EnrolRequest, asJSON bool) int {
	if cfg.Engines.Speaker.Off() || cfg.Engines.Speaker.Model == "" {
		fmt.Fprintln(c.stderr, "izwi speakers enrol: no speaker model is configured ([engines.speaker]); identification is off until one is installed (docs/models.md)")
		return exitModel
	}
	logger, _ := newLogger(c.stderr, cfg.Log.Level)
	modelStore, err := openModelStore(cfg, logger)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers enrol: %v\n", err)
		return exitFailure
	}
	set, err := engines.Load(ctx, newRegistry(), engineDeps(modelStore, logger),
		[]config.NamedRole{{Name: "vad", Role: withRequired(cfg.Engines.VAD)}, {Name: "speaker", Role: withRequired(cfg.Engines.Speaker)}})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers enrol: %v\n", err)
		return exitModel
	}
	defer set.Close()
	clip, err := audio.DecodeFileContext(ctx, path, audio.Limits{MaxDuration: 10 * time.Minute})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers enrol: %v\n", err)
		return exitInput
	}
	req.Samples, err = audio.Prepare(clip, set.Embedder.SampleRate())
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers enrol: %v\n", err)
		return exitInput
	}
	vadSamples, err := audio.Prepare(clip, set.VAD.SampleRate())
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers enrol: %v\n", err)
		return exitInput
	}
	if req.Speech, err = speakers.MeasureSpeech(set.VAD, vadSamples); err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers enrol: %v\n", err)
		return exitFailure
	}
	s, q, err := reg.Enrol(ctx, set.Embedder, cfg.Engines.Speaker.Model, req)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi speakers enrol: %v\n", err)
		for _, p := range q.Problems {
			fmt.Fprintf(c.stderr, "  - %s\n", p)
		}
		return exitInput
	}
	if asJSON {
		writeJSON(c.stdout, s)
	} else {
		fmt.Fprintf(c.stdout, "enrolled %s (%s): %.1f s of speech, SNR %.0f dB; consent %s recorded until %s\n", s.Name, s.ID,
			q.SpeechS, q.SNR, s.Consents[0].ID, s.Consents[0].Deadline.Format(time.DateOnly))
	}
	return exitOK
}

func withRequired(r config.Role) config.Role { r.Required = true; return r }
