package chain

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"

	"golang.org/x/crypto/chacha20poly1305"
)

// sealed holds the audio of one outage for catch-up: PCM16 chunks, each
// sealed with XChaCha20-Poly1305 under a key made for this outage that
// never leaves memory (and is wiped by drop). At most limit samples are
// kept; the oldest chunks go first.
type sealed struct {
	key    []byte
	aead   cipher.AEAD
	chunks []sealedChunk
	held   int64 // samples held
	limit  int64
	seq    uint64
}

type sealedChunk struct {
	start int64 // stream position of the first sample
	n     int64
	nonce []byte
	box   []byte
	seq   uint64 // bound into the tag, so chunks cannot be swapped
}

func newSealed(limit int64) (*sealed, error) {
	key := make([]byte, chacha20poly1305.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("chain: catch-up key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("chain: catch-up key: %w", err)
	}
	return &sealed{key: key, aead: aead, limit: limit}, nil
}

// add seals samples that start at stream position start.
func (s *sealed) add(start int64, samples []float32) error {
	if len(samples) == 0 {
		return nil
	}
	plain := make([]byte, 2*len(samples))
	for i, v := range samples {
		binary.LittleEndian.PutUint16(plain[2*i:], uint16(int16(math.Round(float64(max(-1, min(v, 1))*32767)))))
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("chain: catch-up nonce: %w", err)
	}
	s.seq++
	c := sealedChunk{start: start, n: int64(len(samples)), nonce: nonce, seq: s.seq}
	c.box = s.aead.Seal(nil, nonce, plain, c.ad())
	clear(plain)
	s.chunks = append(s.chunks, c)
	s.held += c.n
	for s.held > s.limit && len(s.chunks) > 1 {
		s.held -= s.chunks[0].n
		s.chunks = s.chunks[1:]
	}
	return nil
}

func (c sealedChunk) ad() []byte {
	ad := make([]byte, 24)
	binary.LittleEndian.PutUint64(ad, c.seq)
	binary.LittleEndian.PutUint64(ad[8:], uint64(c.start))
	binary.LittleEndian.PutUint64(ad[16:], uint64(c.n))
	return ad
}

// open unseals the held audio, returning it and its first position. Gaps
// between chunks (there are none while one stream feeds it) are filled
// with silence so times stay true.
func (s *sealed) open() ([]float32, int64, error) {
	if len(s.chunks) == 0 {
		return nil, 0, nil
	}
	for i := 1; i < len(s.chunks); i++ {
		prev, c := s.chunks[i-1], s.chunks[i]
		if c.seq != prev.seq+1 || c.start < prev.start {
			return nil, 0, fmt.Errorf("chain: catch-up audio out of order")
		}
	}
	first := s.chunks[0].start
	last := s.chunks[len(s.chunks)-1]
	out := make([]float32, last.start+last.n-first)
	for _, c := range s.chunks {
		plain, err := s.aead.Open(nil, c.nonce, c.box, c.ad())
		if err != nil {
			return nil, 0, fmt.Errorf("chain: catch-up audio failed its integrity check: %w", err)
		}
		for i := range c.n {
			out[c.start-first+i] = float32(int16(binary.LittleEndian.Uint16(plain[2*i:]))) / 32768
		}
		clear(plain)
	}
	return out, first, nil
}

// drop wipes the key and forgets the audio.
func (s *sealed) drop() {
	clear(s.key)
	s.chunks, s.held, s.aead = nil, 0, nil
}
