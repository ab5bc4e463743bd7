package main

// izwi verify ARTIFACT: checks a release artifact (tarball, .deb, SBOM,
// image) or a model catalogue against its minisign signature.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"aead.dev/minisign"

	"github.com/izwi-speech/izwi/internal/signing"
)

func runVerify(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("verify", c.stderr)
	sigPath := fs.String("sig", "", "signature file (default ARTIFACT.minisig)")
	pubPath := fs.String("pubkey", "", "minisign public key file (default: the project key built into izwi)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: izwi verify [flags] ARTIFACT\n\nchecks ARTIFACT against its minisign signature; exit 5 if it does not verify\n\nflags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	artifact := pos[0]
	if *sigPath == "" {
		*sigPath = artifact + ".minisig"
	}
	key := signing.ProjectKey()
	if *pubPath != "" {
		if key, err = signing.ReadPublicKey(*pubPath); err != nil {
			fmt.Fprintf(c.stderr, "izwi verify: %v\n", err)
			return exitUsage
		}
	}
	sig, err := os.ReadFile(*sigPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi verify: %v\n", err)
		return exitInput
	}
	f, err := os.Open(artifact)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi verify: %v\n", err)
		return exitInput
	}
	defer f.Close()
	v, err := signing.Verify(ctx, []minisign.PublicKey{key}, f, sig)
	switch {
	case err == nil:
		fmt.Fprintf(c.stdout, "%s: good signature by key %s (%s)\n", artifact, v.KeyID, v.TrustedComment)
		return exitOK
	case ctx.Err() != nil:
		return exitCanceled
	case errors.Is(err, signing.ErrSignature):
		fmt.Fprintf(c.stderr, "izwi verify: %s: %v\n", artifact, err)
		return exitVerify
	default:
		fmt.Fprintf(c.stderr, "izwi verify: %s: %v\n", artifact, err)
		return exitFailure
	}
}

// sourceDateEpoch reads $SOURCE_DATE_EPOCH, which reproducible builds set
// to the commit time so generated files carry no build-time clock.
func sourceDateEpoch() (time.Time, bool) {
	n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}
