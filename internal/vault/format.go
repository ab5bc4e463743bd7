package vault

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealed-object format, version 1:
//
//	offset  size  field
//	0       3     magic "IZV"
//	3       1     format version (1)
//	4       1     algorithm (1 = XChaCha20-Poly1305)
//	5       16    data-key id
//	21      24    nonce (random)
//	45      n+16  ciphertext and Poly1305 tag
//
// The associated data is the 21-byte header followed by the object's class
// and id (length-prefixed), so a blob opens only as the object it was sealed
// for, under the key it names: swapping two rows' blobs, relabelling a blob's
// class or editing any header byte makes Open fail, with no partial plaintext.
//
// Why random nonces are safe here: XChaCha20-Poly1305 takes 192-bit nonces.
// Two random nonces collide with probability about q²/2¹⁹³ after q seals under
// one key; even q = 2⁴⁸ (far beyond any data key's life) gives about 2⁻⁹⁷.
// AES-GCM's 96-bit nonces would need a persistent per-key counter and a
// 2³² limit (NIST SP 800-38D §8.3); XChaCha needs neither.
const (
	magic         = "IZV"
	formatV1      = 1
	algXChaCha    = 1
	keyIDSize     = 16
	headerSize    = len(magic) + 2 + keyIDSize
	nonceSize     = chacha20poly1305.NonceSizeX
	tagSize       = chacha20poly1305.Overhead
	overhead      = headerSize + nonceSize + tagSize
	maxPlaintext  = 16 << 20
	maxObjectID   = 1024
	maxClassBytes = 64
)

// KeyID names a data key: 16 random bytes, shown as 32 hex digits.
type KeyID [keyIDSize]byte

// String is the key id in hex (not secret).
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// ParseKeyID reads a key id from its hex form.
func ParseKeyID(s string) (KeyID, error) {
	var id KeyID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != keyIDSize {
		return id, fmt.Errorf("%w: key id %q: want %d hex digits", ErrMalformed, s, 2*keyIDSize)
	}
	copy(id[:], b)
	return id, nil
}

func newKeyID() KeyID {
	var id KeyID
	rand.Read(id[:])
	return id
}

// header is the parsed fixed part of a sealed blob.
type header struct {
	keyID KeyID
	raw   []byte // the header bytes, part of the associated data
	nonce []byte
	body  []byte // ciphertext and tag
}

// parseBlob splits a sealed blob into its parts without decrypting it. It
// refuses unknown versions and algorithms and blobs too short to hold a tag.
func parseBlob(b []byte) (header, error) {
	var h header
	if len(b) < overhead {
		return h, fmt.Errorf("%w: %d bytes is shorter than the %d-byte envelope", ErrMalformed, len(b), overhead)
	}
	if string(b[:len(magic)]) != magic {
		return h, fmt.Errorf("%w: not a sealed object (bad magic)", ErrMalformed)
	}
	if v := b[len(magic)]; v != formatV1 {
		return h, fmt.Errorf("%w: format version %d (this build reads version %d)", ErrMalformed, v, formatV1)
	}
	if a := b[len(magic)+1]; a != algXChaCha {
		return h, fmt.Errorf("%w: unknown algorithm %d", ErrMalformed, a)
	}
	if len(b)-overhead > maxPlaintext {
		return h, fmt.Errorf("%w: %d bytes is larger than the %d-byte limit", ErrMalformed, len(b), maxPlaintext+overhead)
	}
	copy(h.keyID[:], b[len(magic)+2:headerSize])
	h.raw = b[:headerSize]
	h.nonce = b[headerSize : headerSize+nonceSize]
	h.body = b[headerSize+nonceSize:]
	return h, nil
}

// KeyOf returns the id of the data key a sealed blob names, without
// decrypting it (to shred or list what a set of blobs depends on).
func KeyOf(blob []byte) (KeyID, error) {
	h, err := parseBlob(blob)
	return h.keyID, err
}

// IsSealed reports whether b looks like a sealed blob (magic and version),
// so a migration can tell sealed values from legacy plaintext ones.
func IsSealed(b []byte) bool {
	_, err := parseBlob(b)
	return err == nil
}

func newHeader(id KeyID) []byte {
	h := make([]byte, 0, headerSize+nonceSize)
	h = append(h, magic...)
	h = append(h, formatV1, algXChaCha)
	return append(h, id[:]...)
}

// objectAAD is the associated data of a sealed object.
func objectAAD(hdr []byte, class Class, objectID string) []byte {
	aad := make([]byte, 0, len(hdr)+6+len(class)+len(objectID))
	aad = append(aad, hdr...)
	aad = binary.BigEndian.AppendUint16(aad, uint16(len(class)))
	aad = append(aad, class...)
	aad = binary.BigEndian.AppendUint32(aad, uint32(len(objectID)))
	return append(aad, objectID...)
}

// wrapAAD is the associated data of a wrapped data key: the key's id, class,
// owner and the master key's id, so a wrapped key cannot be moved to another
// row or claimed by another master key.
func wrapAAD(id KeyID, class Class, owner, kekID string) []byte {
	aad := []byte("IZVK\x01")
	aad = append(aad, id[:]...)
	for _, s := range []string{string(class), owner, kekID} {
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(s)))
		aad = append(aad, s...)
	}
	return aad
}

// seal encrypts pt under key with a fresh random nonce.
func seal(key []byte, hdr, aad, pt []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	out := make([]byte, len(hdr), len(hdr)+nonceSize+len(pt)+tagSize)
	copy(out, hdr)
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	out = append(out, nonce...)
	return a.Seal(out, nonce, pt, aad), nil
}

// open decrypts body; any change to key, nonce, body, tag or aad fails.
func open(key, nonce, body, aad []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	pt, err := a.Open(nil, nonce, body, aad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// wrap seals a data key under a master key: nonce || ciphertext || tag.
func wrap(kek, dek, aad []byte) ([]byte, error) { return seal(kek, nil, aad, dek) }

// unwrap reverses wrap.
func unwrap(kek, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) != nonceSize+dekSize+tagSize {
		return nil, fmt.Errorf("%w: wrapped key of %d bytes", ErrMalformed, len(wrapped))
	}
	return open(kek, wrapped[:nonceSize], wrapped[nonceSize:], aad)
}
