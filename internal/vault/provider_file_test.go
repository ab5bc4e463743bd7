package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestFileProviderCreatesPrivateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vault")
	p := &FileProvider{Path: filepath.Join(dir, "master.key")}
	k1, next, err := p.Keys(context.Background())
	if err != nil || next != nil {
		t.Fatal(err, next)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, p.Path: 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	k2, _, err := p.Keys(context.Background())
	if err != nil || k1.ID != k2.ID {
		t.Fatalf("second load: %v, ids %s %s", err, k1.ID, k2.ID)
	}
	if s := k1.String(); strings.Contains(s, string(k1.key)) || !strings.Contains(s, k1.ID) {
		t.Fatalf("KEK prints as %q", s)
	}
}

func TestFileProviderRefusesLoosePermissions(t *testing.T) {
	ctx := context.Background()
	mk := func(t *testing.T) *FileProvider {
		dir := filepath.Join(t.TempDir(), "vault")
		p := &FileProvider{Path: filepath.Join(dir, "master.key")}
		if _, _, err := p.Keys(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name  string
		apply func(p *FileProvider) error
		want  string
	}{
		{"file world-readable", func(p *FileProvider) error { return os.Chmod(p.Path, 0o644) }, "chmod 600"},
		{"file group-readable", func(p *FileProvider) error { return os.Chmod(p.Path, 0o640) }, "0640"},
		{"file world-writable", func(p *FileProvider) error { return os.Chmod(p.Path, 0o602) }, "0602"},
		{"directory world-listable", func(p *FileProvider) error { return os.Chmod(filepath.Dir(p.Path), 0o755) }, "chmod 700"},
		{"directory group-writable", func(p *FileProvider) error { return os.Chmod(filepath.Dir(p.Path), 0o770) }, "0770"},
		{"file owned by someone else", func(p *FileProvider) error { return chownOther(t, p.Path) }, "owned by uid"},
		{"directory owned by someone else", func(p *FileProvider) error { return chownOther(t, filepath.Dir(p.Path)) }, "owned by uid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mk(t)
			if err := tc.apply(p); err != nil {
				t.Fatal(err)
			}
			_, _, err := p.Keys(ctx)
			if !errors.Is(err, ErrLoosePermissions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Keys = %v; want ErrLoosePermissions mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("not a regular file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "vault")
		os.MkdirAll(filepath.Join(dir, "master.key"), 0o700)
		os.Chmod(dir, 0o700)
		if _, _, err := (&FileProvider{Path: filepath.Join(dir, "master.key")}).Keys(ctx); err == nil {
			t.Fatal("a directory was accepted as the key file")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		p := mk(t)
		os.WriteFile(p.Path, []byte("not hex at all\n"), 0o600)
		if _, _, err := p.Keys(ctx); err == nil || !strings.Contains(err.Error(), "hex digits") {
			t.Fatalf("garbage key file: %v", err)
		}
	})
}

// chownOther gives path to another uid; only root can, so others skip.
func chownOther(t *testing.T, path string) error {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root (CI runs as root)")
	}
	return os.Chown(path, 4242, 4242)
}

// Two processes starting at once on a fresh data directory agree on one key.
func TestFileProviderConcurrentFirstUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault", "master.key")
	ids := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := (&FileProvider{Path: path}).Keys(context.Background())
			ids[i], errs[i] = k.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("provider %d: %s, %v (provider 0: %s)", i, ids[i], errs[i], ids[0])
		}
	}
}
