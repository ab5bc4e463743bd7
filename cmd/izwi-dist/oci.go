package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts, checked again by checkImage.
const (
	imageUID        = 65532
	imageUser       = "65532:65532" // izwi, from the rootfs's /etc/passwd; never root
	imageEntrypoint = "/usr/bin/izwi"
	sbomMediaType   = "application/vnd.cyclonedx+json"
	sbomAnnotation  = "dev.izwi.sbom.sha256"
)

var imageVolumes = []string{"/var/lib/izwi", "/run/credentials/izwi"}

// runOCI builds the image from a staged root filesystem (one layer, written
// with the same sorted, fixed-time tar writer as the release tarball) and
// writes an OCI image layout as a plain tar: the image manifest, and the
// SBOM as an OCI 1.1 referrer whose subject is that manifest (the image
// manifest also carries the SBOM's digest as an annotation). No daemon,
// no base image pull: everything comes from the staged root.
func runOCI(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("oci", flag.ContinueOnError)
	out := fs.String("o", "", "output OCI layout .tar")
	rootfs := fs.String("rootfs", "", "staged root filesystem")
	sbomPath := fs.String("sbom", "", "CycloneDX SBOM to attach")
	version := fs.String("version", "dev", "image version (org.opencontainers.image.version)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *rootfs == "" || *sbomPath == "" {
		return fmt.Errorf("want -o OUT -rootfs DIR -sbom FILE")
	}
	at, err := sourceDate()
	if err != nil {
		return err
	}
	sbom, err := os.ReadFile(*sbomPath)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "izwi-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := buildLayout(ctx, dir, *rootfs, sbom, *version, at); err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	if err := writeTree(ctx, tw, dir, "", at, nil); err != nil {
		f.Close()
		return err
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func buildLayout(ctx context.Context, dir, rootfs string, sbom []byte, version string, at time.Time) error {
	var layerBuf bytes.Buffer
	special := map[string]attr{"var/lib/izwi": {imageUID, 0o750}, "tmp": {0, 0o1777}}
	if err := writeTarGz(ctx, &layerBuf, rootfs, "", at, special); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBuf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: layer, History: v1.History{Created: v1.Time{Time: at}, CreatedBy: "izwi-dist oci", Comment: "izwi, its libraries and their Debian runtime"},
	})
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = "amd64", "linux", v1.Time{Time: at}
	vols := map[string]struct{}{}
	for _, v := range imageVolumes {
		vols[v] = struct{}{}
	}
	cf.Config = v1.Config{
		User:         imageUser,
		Entrypoint:   []string{imageEntrypoint},
		Cmd:          []string{"serve", "--config", "/etc/izwi/izwi.toml"},
		WorkingDir:   "/var/lib/izwi",
		Env:          []string{"IZWI_DATA_DIR=/var/lib/izwi", "TMPDIR=/tmp", "CREDENTIALS_DIRECTORY=/run/credentials/izwi"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Volumes:      vols,
		StopSignal:   "SIGTERM",
		Labels:       map[string]string{"org.opencontainers.image.title": "izwi", "org.opencontainers.image.version": version},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	sum := sha256.Sum256(sbom)
	img = mutate.Annotations(img, map[string]string{
		"org.opencontainers.image.title":   "izwi",
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.created": at.Format(time.RFC3339),
		sbomAnnotation:                     hex.EncodeToString(sum[:]),
	}).(v1.Image)
	desc, err := descriptorOf(img)
	if err != nil {
		return err
	}
	sbomImg, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), static.NewLayer(sbom, sbomMediaType))
	if err != nil {
		return err
	}
	sbomImg = mutate.ConfigMediaType(sbomImg, sbomMediaType)
	sbomImg = mutate.Subject(sbomImg, desc).(v1.Image)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": version})); err != nil {
		return err
	}
	return p.AppendImage(sbomImg)
}

func descriptorOf(img v1.Image) (v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}, err
}

// layoutDir extracts an OCI layout tar into a temporary directory.
func layoutDir(tarPath string) (string, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "izwi-oci-check-")
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir, nil
		}
		if err != nil {
			return dir, err
		}
		dst := filepath.Join(dir, filepath.FromSlash(filepath.Clean("/"+h.Name)))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return dir, err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return dir, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return dir, err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return dir, err
		}
	}
}
