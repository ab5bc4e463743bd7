package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/izwi-speech/izwi/internal/vault"
)

const vaultUsage = `usage: izwi vault COMMAND [flags]

The privacy vault's master key, in the configured database and [vault]
provider (file, passphrase, env or tpm). The key itself is never printed.

commands:
  status    provider, master-key id and age, data keys by class, shredded keys
  rotate    re-wrap every data key under a new master key in one transaction
            and retire the old one (audited, actor "system:cli"). Safe while
            izwi serve runs; if interrupted, run it again to finish.
            env provider: set IZWI_VAULT_NEW_KEY_FILE first, then move it
            into IZWI_VAULT_KEY_FILE. passphrase provider: set
            IZWI_VAULT_NEW_PASSPHRASE(_FILE) to change the passphrase too.
  move --to PROVIDER
            re-wrap every data key under the master key of another provider
            (file, passphrase, env, tpm), e.g. off the TPM before a firmware
            update; then set [vault] provider to it and delete the old key.

status makes the master key if there is none yet, as izwi serve would.

flags:
`

// runVault is `izwi vault status|rotate`.
func runVault(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("vault", c.stderr)
	cf := addConfigFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	to := fs.String("to", "", "the provider to move to (move)")
	fs.Usage = func() { fmt.Fprint(c.stderr, vaultUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || (pos[0] != "status" && pos[0] != "rotate" && pos[0] != "move") || (pos[0] == "move") != (*to != "") {
		fs.Usage()
		return exitUsage
	}
	sub := pos[0]
	cfg, _, err := loadConfig(cf, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi vault: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi vault: %v\n", err)
		return exitUsage
	}
	db, err := openStore(ctx, cfg.Data)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi vault: %v\n", err)
		return exitFailure
	}
	defer db.Close()
	alog, err := openAuditTool(ctx, db, cfg, logger)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi vault: %v\n", err)
		return exitFailure
	}
	defer alog.Close()
	var target vault.Provider
	if sub == "move" {
		tcfg := cfg.Vault
		tcfg.Provider = *to
		if target, err = vault.ProviderFrom(tcfg, secrets.Source{LookupEnv: os.LookupEnv}); err != nil || *to == cfg.Vault.Provider {
			fmt.Fprintf(c.stderr, "izwi vault move: --to %q: want another of file, passphrase, env or tpm than the configured %s\n", *to, cfg.Vault.Provider)
			return exitUsage
		}
	}
	kr, err := openVault(ctx, cfg, db, alog, logger)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi vault: %v\n", err)
		return exitFailure
	}
	switch sub {
	case "move":
		mv, err := kr.MoveTo(vault.WithActor(ctx, "system:cli"), target)
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi vault move: %v\n", err)
			return exitFailure
		}
		if *asJSON {
			writeJSON(c.stdout, mv)
		} else {
			fmt.Fprintf(c.stdout, "moved to the %s master key %s (from %s); %d data keys re-wrapped\n", mv.Provider, mv.To, mv.From, mv.Rewrapped)
		}
		fmt.Fprintf(c.stderr, "izwi vault: now set [vault] provider = %q (or IZWI_VAULT_PROVIDER=%s), restart, and destroy the old key: %s\n",
			*to, *to, oldKeyLocation(cfg.Vault))
	case "status":
		st, err := kr.Status(ctx)
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi vault status: %v\n", err)
			return exitFailure
		}
		printVaultStatus(c, st, *asJSON)
	case "rotate":
		rot, err := kr.Rotate(vault.WithActor(ctx, "system:cli"))
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi vault rotate: %v\n", err)
			return exitFailure
		}
		if *asJSON {
			writeJSON(c.stdout, rot)
		} else {
			fmt.Fprintf(c.stdout, "rotated the %s master key %s -> %s; %d data keys re-wrapped\n", rot.Provider, rot.From, rot.To, rot.Rewrapped)
		}
		switch rot.Provider {
		case config.VaultProviderEnv:
			fmt.Fprintln(c.stderr, "izwi vault: now move the new key into IZWI_VAULT_KEY_FILE (or the credential vault_key) and remove IZWI_VAULT_NEW_KEY*")
		case config.VaultProviderPassphrase:
			if os.Getenv("IZWI_VAULT_NEW_PASSPHRASE_FILE") != "" || os.Getenv("IZWI_VAULT_NEW_PASSPHRASE") != "" {
				fmt.Fprintln(c.stderr, "izwi vault: now make the new passphrase the vault_passphrase and remove IZWI_VAULT_NEW_PASSPHRASE*")
			}
		}
	}
	return exitOK
}

// openVault builds the configured master-key provider and opens the
// keyring on db; a wrong key or passphrase fails here. izwi serve and
// izwi users call it too, and pass the keyring to what stores personal data.
func openVault(ctx context.Context, cfg config.Config, db *store.Store, rec vault.TxRecorder, logger *slog.Logger) (*vault.Keyring, error) {
	prov, err := vault.ProviderFrom(cfg.Vault, secrets.Source{LookupEnv: os.LookupEnv})
	if err != nil {
		return nil, err
	}
	return vault.New(ctx, vault.Options{Store: db, Provider: prov, Audit: rec, Logger: telemetry.Component(logger, "vault"),
		ShredListPath: cfg.Vault.ShredListPath})
}

func printVaultStatus(c *cli, st vault.Status, asJSON bool) {
	age := st.KEKAge(time.Now()).Truncate(time.Second)
	if asJSON {
		writeJSON(c.stdout, struct {
			vault.Status
			KEKAgeSeconds int64 `json:"kek_age_seconds"`
		}{st, int64(age.Seconds())})
		return
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "provider\t%s\n", st.Provider)
	fmt.Fprintf(tw, "master key\t%s (first used %s, %s ago)\n", st.KEKID, st.KEKCreated.Format(time.RFC3339), age)
	if st.StagedKEKID != "" {
		fmt.Fprintf(tw, "staged key\t%s (a rotation did not finish: run izwi vault rotate)\n", st.StagedKEKID)
	}
	var parts []string
	for _, cl := range vault.Classes() {
		parts = append(parts, fmt.Sprintf("%s %d", cl, st.Keys[cl]))
	}
	fmt.Fprintf(tw, "data keys\t%s\n", strings.Join(parts, ", "))
	fmt.Fprintf(tw, "shredded keys\t%d\n", st.Shredded)
	fmt.Fprintf(tw, "retired master keys\t%d\n", st.Retired)
	tw.Flush()
}

// oldKeyLocation says where the configured provider keeps its master key.
func oldKeyLocation(v config.Vault) string {
	switch v.Provider {
	case config.VaultProviderPassphrase:
		return v.PassphraseParamsPath + " (and retire the passphrase)"
	case config.VaultProviderEnv:
		return "IZWI_VAULT_KEY / IZWI_VAULT_KEY_FILE / the credential vault_key"
	case config.VaultProviderTPM:
		return v.TPMSealedKeyPath
	}
	return v.MasterKeyPath
}
