package sherpa

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Limits on what readONNXMetadata accepts; real models carry a few dozen
// short entries (Kokoro's speaker list is the longest, a few KiB).
const (
	maxMetaEntries    = 4096
	maxMetaEntryBytes = 1 << 20
)

var errProto = errors.New("malformed protobuf")

// readONNXMetadata returns the metadata_props of the ONNX model at path
// without loading it. sherpa-onnx reads the same keys and calls exit() when
// a required one is missing or odd, so engines check them here first. It
// walks only the top level of the ModelProto, seeking past the graph, so a
// large model costs a few reads.
func readONNXMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sherpa: %w: %w", speech.ErrModel, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sherpa: %w: %w", speech.ErrModel, err)
	}
	meta, err := parseONNXMetadata(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("sherpa: %s: onnx metadata: %w: %w", path, speech.ErrModel, err)
	}
	return meta, nil
}

// protoReader reads protobuf wire format from r at off, within size.
type protoReader struct {
	r    io.ReaderAt
	off  int64
	size int64
}

func (p *protoReader) varint() (uint64, error) {
	var v uint64
	var b [1]byte
	for shift := uint(0); shift < 64; shift += 7 {
		if p.off >= p.size {
			return 0, fmt.Errorf("%w: truncated varint", errProto)
		}
		if _, err := p.r.ReadAt(b[:], p.off); err != nil {
			return 0, err
		}
		p.off++
		v |= uint64(b[0]&0x7f) << shift
		if b[0] < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint too long", errProto)
}

// field reads one tag and returns its number, wire type and, for
// length-delimited fields, the payload's offset and length (not read).
func (p *protoReader) field() (num int, wire int, off, n int64, err error) {
	tag, err := p.varint()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	num, wire = int(tag>>3), int(tag&7)
	if num == 0 {
		return 0, 0, 0, 0, fmt.Errorf("%w: field number 0", errProto)
	}
	switch wire {
	case 0:
		_, err = p.varint()
	case 1:
		p.off += 8
	case 5:
		p.off += 4
	case 2:
		var l uint64
		if l, err = p.varint(); err == nil {
			if l > uint64(p.size-p.off) {
				return 0, 0, 0, 0, fmt.Errorf("%w: field %d length %d beyond the data", errProto, num, l)
			}
			off, n = p.off, int64(l)
			p.off += n
		}
	default:
		return 0, 0, 0, 0, fmt.Errorf("%w: field %d has wire type %d", errProto, num, wire)
	}
	if err == nil && p.off > p.size {
		err = fmt.Errorf("%w: field %d runs past the end", errProto, num)
	}
	return num, wire, off, n, err
}

// parseONNXMetadata reads ModelProto.metadata_props (field 14, repeated
// StringStringEntryProto{key = 1, value = 2}) from the size bytes of r.
func parseONNXMetadata(r io.ReaderAt, size int64) (map[string]string, error) {
	p := &protoReader{r: r, size: size}
	meta := map[string]string{}
	sawGraph := false
	for p.off < p.size {
		num, wire, off, n, err := p.field()
		if err != nil {
			return nil, err
		}
		sawGraph = sawGraph || num == 7 && wire == 2
		if num != 14 || wire != 2 {
			continue
		}
		if n > maxMetaEntryBytes || len(meta) >= maxMetaEntries {
			return nil, fmt.Errorf("%w: metadata too large", errProto)
		}
		buf := make([]byte, n)
		if _, err := r.ReadAt(buf, off); err != nil {
			return nil, err
		}
		k, v, err := parseStringEntry(buf)
		if err != nil {
			return nil, err
		}
		meta[k] = v
	}
	if !sawGraph {
		return nil, fmt.Errorf("%w: no graph", errProto)
	}
	return meta, nil
}

func parseStringEntry(buf []byte) (key, value string, err error) {
	p := &protoReader{r: bytesReaderAt(buf), size: int64(len(buf))}
	for p.off < p.size {
		num, wire, off, n, err := p.field()
		if err != nil {
			return "", "", err
		}
		if wire != 2 {
			continue
		}
		switch num {
		case 1:
			key = string(buf[off : off+n])
		case 2:
			value = string(buf[off : off+n])
		}
	}
	return key, value, nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
