package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// shells are the paths whose presence would give an attacker a shell.
var shells = []string{"bin/sh", "bin/bash", "bin/dash", "usr/bin/sh", "usr/bin/bash", "usr/bin/dash", "bin/busybox", "usr/bin/busybox"}

// runOCICheck reads an image layout tar back and checks what the release
// promises: non-root user, izwi as entrypoint, data and secrets as volumes,
// no shell anywhere in the filesystem, and the SBOM attached as a referrer
// whose digest matches the manifest's annotation.
func runOCICheck(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("oci-check", flag.ContinueOnError)
	unpack := fs.String("unpack", "", "also unpack the image's filesystem into this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want [-unpack DIR] LAYOUT.tar")
	}
	dir, err := layoutDir(fs.Arg(0))
	defer os.RemoveAll(dir)
	if err != nil {
		return err
	}
	report, err := checkImage(dir)
	if err != nil {
		return err
	}
	fmt.Println(report)
	if *unpack != "" {
		return unpackImage(dir, *unpack)
	}
	return nil
}

// unpackImage writes the image's flattened filesystem into dst, keeping
// modes and symlinks, so the package test can run it read-only.
func unpackImage(layoutPath, dst string) error {
	idx, main, _, err := readLayout(layoutPath)
	if err != nil {
		return err
	}
	img, err := idx.Image(main.Digest)
	if err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	return extractTar(rc, dst)
}

func extractTar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean("/" + h.Name)
		p := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, os.FileMode(h.Mode).Perm()); err != nil {
				return err
			}
			if err := os.Chmod(p, os.FileMode(h.Mode).Perm()|modeBits(h.Mode)); err != nil {
				return err
			}
			if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
				return err
			}
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected entry type %c", h.Name, h.Typeflag)
		}
	}
}

// modeBits keeps the sticky bit of a tar mode (for /tmp).
func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// readLayout opens an image layout and finds its two manifests: the image
// (the one with a ref name) and the SBOM referrer.
func readLayout(dir string) (idx v1.ImageIndex, main, sbom *v1.Descriptor, err error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if idx, err = p.ImageIndex(); err != nil {
		return nil, nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, nil, err
	}
	for i, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] != "" {
			main = &im.Manifests[i]
		} else {
			sbom = &im.Manifests[i]
		}
	}
	if main == nil || sbom == nil {
		return nil, nil, nil, fmt.Errorf("want the image and its SBOM referrer in the index, got %d manifests", len(im.Manifests))
	}
	return idx, main, sbom, nil
}

func checkImage(dir string) (string, error) {
	idx, main, sbom, err := readLayout(dir)
	if err != nil {
		return "", err
	}
	img, err := idx.Image(main.Digest)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	c := cf.Config
	switch {
	case c.User == "" || c.User == "0" || c.User == "root" || strings.HasPrefix(c.User, "0:") || strings.HasPrefix(c.User, "root:"):
		return "", fmt.Errorf("image runs as %q; want a non-root UID", c.User)
	case !slices.Equal(c.Entrypoint, []string{imageEntrypoint}):
		return "", fmt.Errorf("entrypoint %q, want [%s]", c.Entrypoint, imageEntrypoint)
	}
	for _, v := range imageVolumes {
		if _, ok := c.Volumes[v]; !ok {
			return "", fmt.Errorf("volume %s is not declared", v)
		}
	}
	files, err := imageFiles(img)
	if err != nil {
		return "", err
	}
	for _, s := range shells {
		if files[s] {
			return "", fmt.Errorf("the image contains a shell: /%s", s)
		}
	}
	if !files[imageEntrypoint[1:]] {
		return "", fmt.Errorf("the image has no %s", imageEntrypoint)
	}
	m, err := img.Manifest()
	if err != nil {
		return "", err
	}
	sbomImg, err := idx.Image(sbom.Digest)
	if err != nil {
		return "", err
	}
	sm, err := sbomImg.Manifest()
	if err != nil {
		return "", err
	}
	if sm.Subject == nil || sm.Subject.Digest != main.Digest {
		return "", fmt.Errorf("the SBOM manifest's subject is not the image")
	}
	layers, err := sbomImg.Layers()
	if err != nil || len(layers) != 1 {
		return "", fmt.Errorf("the SBOM manifest has no single layer: %v", err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); m.Annotations[sbomAnnotation] != got {
		return "", fmt.Errorf("SBOM digest %s does not match the image annotation %s", got, m.Annotations[sbomAnnotation])
	}
	return fmt.Sprintf("oci: image %s user %s entrypoint %v volumes %d, %d files, no shell, SBOM referrer %s",
		main.Digest, c.User, c.Entrypoint, len(c.Volumes), len(files), sbom.Digest), nil
}

// imageFiles lists every path in the image's layers (without a leading /).
func imageFiles(img v1.Image) (map[string]bool, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	files := map[string]bool{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return nil, err
			}
			files[path.Clean(h.Name)] = true
		}
		rc.Close()
	}
	return files, nil
}
