package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// File format constants (see the package documentation).
const (
	// Magic opens every capture file.
	Magic = "TCCAP"
	// Version is the file format version this package reads and writes.
	Version = 1
	// HeaderLen is the size of the file header.
	HeaderLen = 24
	// RecordHeaderLen is the size of the header in front of each record's messages.
	RecordHeaderLen = 16
	// MaxRecord bounds the messages of one record, so a damaged length never
	// makes a reader allocate more.
	MaxRecord = 16 << 20
)

// Errors of a capture file, matched with errors.Is. The errors returned wrap
// them with the offset of the record at fault.
var (
	// ErrNotCapture: the file does not start with the "TCCAP" magic.
	ErrNotCapture = errors.New("capture: not a tickcast capture file")
	// ErrVersion: the file's format version is not one this package reads.
	ErrVersion = errors.New("capture: unsupported capture format version")
	// ErrTruncated: the file ends inside its header or a record (it also
	// matches io.ErrUnexpectedEOF).
	ErrTruncated = errors.New("capture: truncated file")
	// ErrCorrupt: a CRC mismatch, a length out of range or a batch that is not
	// whole wire messages.
	ErrCorrupt = errors.New("capture: corrupt file")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendHeader appends a file header stamped with created.
func appendHeader(b []byte, created time.Time) []byte {
	b = append(b, Magic...)
	b = append(b, Version, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(created.UnixNano()))
	b = binary.LittleEndian.AppendUint32(b, 0)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[len(b)-20:], castagnoli))
}

// parseHeader checks a file header and returns its creation time.
func parseHeader(h []byte) (time.Time, error) {
	if string(h[:5]) != Magic {
		return time.Time{}, fmt.Errorf("%w: magic %q", ErrNotCapture, h[:5])
	}
	if h[5] != Version {
		return time.Time{}, fmt.Errorf("%w: version %d, this reader knows %d", ErrVersion, h[5], Version)
	}
	if got, want := binary.LittleEndian.Uint32(h[20:]), crc32.Checksum(h[:20], castagnoli); got != want {
		return time.Time{}, fmt.Errorf("%w: file header: CRC-32C %#08x, computed %#08x", ErrCorrupt, got, want)
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(h[8:]))), nil
}

// putRecordHeader fills a record header for msgs received at rxTime.
func putRecordHeader(h *[RecordHeaderLen]byte, rxTime int64, msgs []byte) {
	binary.LittleEndian.PutUint64(h[0:], uint64(rxTime))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(msgs)))
	crc := crc32.Update(0, castagnoli, h[:12])
	binary.LittleEndian.PutUint32(h[12:], crc32.Update(crc, castagnoli, msgs))
}

// validate checks that msgs is a batch a source may publish: 1..MaxRecord bytes
// of whole wire messages, none of them a control message. Messages of types
// this version does not know pass (forward compatibility).
func validate(msgs []byte) error {
	if len(msgs) == 0 || len(msgs) > MaxRecord {
		return fmt.Errorf("batch of %d bytes, want 1..%d", len(msgs), MaxRecord)
	}
	for off := 0; off < len(msgs); {
		m, err := wire.ReadMessage(msgs[off:])
		if err != nil {
			return fmt.Errorf("message at byte %d: %w", off, err)
		}
		if _, market := m.Instrument(); !market {
			if _, known := m.Type().MinLen(); known {
				return fmt.Errorf("message at byte %d: %v is a control message", off, m.Type())
			}
		}
		off += m.Len()
	}
	return nil
}
