package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/izwi-speech/izwi/internal/signing"
)

func runKeygen(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	pubPath := fs.String("pub", "", "public key file to write")
	keyPath := fs.String("key", "", "secret key file to write (mode 0600)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pubPath == "" || *keyPath == "" {
		return fmt.Errorf("-pub and -key are required")
	}
	pub, priv, err := signing.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*keyPath, priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(*pubPath, pub, 0o644)
}

// runSign signs each file. The key comes from -key, else
// $IZWI_SIGNING_KEY_FILE; an encrypted key's password from
// $IZWI_SIGNING_KEY_PASSWORD_FILE.
func runSign(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	keyPath := fs.String("key", os.Getenv("IZWI_SIGNING_KEY_FILE"), "minisign secret key file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyPath == "" {
		return fmt.Errorf("no key: set IZWI_SIGNING_KEY_FILE or -key")
	}
	password := ""
	if pf := os.Getenv("IZWI_SIGNING_KEY_PASSWORD_FILE"); pf != "" {
		b, err := os.ReadFile(pf)
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	key, err := signing.ReadPrivateKey(*keyPath, password)
	if err != nil {
		return err
	}
	at, err := sourceDate()
	if err != nil {
		return err
	}
	for _, p := range fs.Args() {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		sig, err := signing.Sign(ctx, key, f, filepath.Base(p), at)
		f.Close()
		if err != nil {
			return err
		}
		if err := os.WriteFile(p+".minisig", sig, 0o644); err != nil {
			return err
		}
	}
	return nil
}
