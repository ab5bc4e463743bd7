package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// runTar writes SRC as a .tar.gz whose bytes depend only on the files'
// contents, names and executable bits: entries sorted by name, owner
// root:root (0/0), mtime SOURCE_DATE_EPOCH, modes normalised to 0755/0644,
// gzip header without name or time.
func runTar(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tar", flag.ContinueOnError)
	out := fs.String("o", "", "output .tar.gz")
	prefix := fs.String("prefix", "", "top-level directory inside the archive")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 1 {
		return fmt.Errorf("want -o OUT [-prefix DIR] SRC")
	}
	at, err := sourceDate()
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := writeTarGz(ctx, f, fs.Arg(0), *prefix, at, nil); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// attr overrides the normalised owner and mode of one entry (by its name in
// the archive): the image's data volume belongs to the izwi user, /tmp is
// sticky and world-writable.
type attr struct {
	uid  int
	mode int64
}

func writeTarGz(ctx context.Context, w io.Writer, src, prefix string, at time.Time, special map[string]attr) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := writeTree(ctx, tw, src, prefix, at, special); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// writeTree adds every file and directory under src to tw in sorted order.
func writeTree(ctx context.Context, tw *tar.Writer, src, prefix string, at time.Time, special map[string]attr) error {
	var paths []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != src {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	if prefix != "" {
		if err := tw.WriteHeader(dirHeader(prefix, at)); err != nil {
			return err
		}
	}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		name := path.Join(prefix, filepath.ToSlash(rel))
		if err := addEntry(tw, p, name, at, special); err != nil {
			return err
		}
	}
	return nil
}

func dirHeader(name string, at time.Time) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: at, Format: tar.FormatPAX}
}

func addEntry(tw *tar.Writer, p, name string, at time.Time, special map[string]attr) error {
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	switch {
	case info.IsDir():
		h := dirHeader(name, at)
		if a, ok := special[name]; ok {
			h.Uid, h.Gid, h.Mode = a.uid, a.uid, a.mode
		}
		return tw.WriteHeader(h)
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target,
			Mode: 0o777, ModTime: at, Format: tar.FormatPAX})
	case info.Mode().IsRegular():
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: info.Size(), Mode: mode, ModTime: at, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	}
	return fmt.Errorf("%s: unsupported file type %v", p, info.Mode())
}
