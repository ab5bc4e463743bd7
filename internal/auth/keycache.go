package auth

import (
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"time"
)

// Verified keys are cached so that an authenticated request does not need
// a database read (a SQLite read transaction costs more than the rest of
// the gateway together). Revocation must still apply to the very next
// request, including a revocation made by another process (`izwi keys
// revoke` while the server runs), so the cache is guarded by an epoch file:
//
//   - every key change, in any process, rewrites the epoch file's 16
//     random bytes in place, before and after its commit;
//   - a verifier reads the epoch before its database read and caches the
//     key under that epoch; a cached entry is used only while the epoch is
//     unchanged (one pread on an open descriptor);
//   - changes in this process also drop the entry directly.
//
// A change between the epoch read and the database read leaves an entry
// under the old epoch, which the post-commit rewrite then invalidates.
// maxCacheAge bounds an entry's life regardless, in case the epoch file is
// replaced behind our back.
const maxCacheAge = 30 * time.Second

const epochSize = 16

// epochFile is the shared change counter beside the database.
type epochFile struct {
	mu sync.Mutex
	f  *os.File
}

func openEpoch(path string) (*epochFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: key epoch file: %w", err)
	}
	e := &epochFile{f: f}
	if st, err := f.Stat(); err == nil && st.Size() < epochSize {
		if err := e.bump(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return e, nil
}

// read returns the current epoch (the zero array if it cannot be read,
// which never matches a cached entry's).
func (e *epochFile) read() [epochSize]byte {
	var b [epochSize]byte
	if _, err := e.f.ReadAt(b[:], 0); err != nil {
		return [epochSize]byte{}
	}
	return b
}

// bump writes a fresh random epoch in place.
func (e *epochFile) bump() error {
	var b [epochSize]byte
	_, _ = rand.Read(b[:])
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("auth: key epoch file: %w", err)
	}
	return nil
}

func (e *epochFile) close() error { return e.f.Close() }

// cachedKey is a verified key and what it was verified under.
type cachedKey struct {
	key      Key
	hash     []byte
	epoch    [epochSize]byte
	cachedAt time.Time
}

// keyCache maps key ids to verified keys, bounded.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

func (c *keyCache) get(id string) (cachedKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e, ok
}

func (c *keyCache) put(id string, e cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= 10000 {
		clear(c.m)
	}
	c.m[id] = e
}

func (c *keyCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
