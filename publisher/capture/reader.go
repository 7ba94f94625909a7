package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"
)

// readChunk bounds each step of a record's buffer growth, so a damaged length
// costs no more memory than the bytes actually there.
const readChunk = 64 << 10

// Reader reads the records of a capture file in order. It checks each record
// completely before returning it. A Reader is not safe for concurrent use.
type Reader struct {
	r       *bufio.Reader
	created time.Time
	off     int64 // offset of the next record
	hdr     [RecordHeaderLen]byte
	buf     []byte
	err     error // sticky
}

// NewReader reads and checks the file header from r. Reads are buffered.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10), off: HeaderLen}
	var h [HeaderLen]byte
	if n, err := io.ReadFull(rd.r, h[:]); err != nil {
		if k := min(n, len(Magic)); err == io.EOF || string(h[:k]) != Magic[:k] {
			// Empty, or not ours at all: say so rather than "truncated".
			return nil, fmt.Errorf("%w: %d bytes", ErrNotCapture, n)
		}
		return nil, truncated("file header", 0, n, HeaderLen, err)
	}
	created, err := parseHeader(h[:])
	if err != nil {
		return nil, err
	}
	rd.created = created
	return rd, nil
}

// truncated returns the error for a short read of what at off: got of want
// bytes, or the read error itself when it is not an end of file.
func truncated(what string, off int64, got, want int, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s at offset %d: %d of %d bytes (%w)", ErrTruncated, what, off, got, want, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("capture: read %s at offset %d: %w", what, off, err)
}

// Created returns the creation time written in the file header.
func (r *Reader) Created() time.Time { return r.created }

// Offset returns the offset of the next record: the bytes read so far.
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next record: the receive time in ns since the Unix epoch and
// the batch of messages, valid until the next call. At the end of the file it
// returns io.EOF; a file that ends inside a record returns an [ErrTruncated]
// error, a damaged record an [ErrCorrupt] error naming its offset. After an
// error Next keeps returning it.
func (r *Reader) Next() (rxTime int64, msgs []byte, err error) {
	if r.err != nil {
		return 0, nil, r.err
	}
	rxTime, msgs, err = r.next()
	if err != nil {
		r.err = err
		return 0, nil, err
	}
	return rxTime, msgs, nil
}

func (r *Reader) next() (int64, []byte, error) {
	n, err := io.ReadFull(r.r, r.hdr[:])
	if err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, truncated("record header", r.off, n, RecordHeaderLen, err)
	}
	rxTime := int64(binary.LittleEndian.Uint64(r.hdr[0:]))
	size := binary.LittleEndian.Uint32(r.hdr[8:])
	if size == 0 || size > MaxRecord {
		return 0, nil, fmt.Errorf("%w: record at offset %d: length %d, want 1..%d", ErrCorrupt, r.off, size, MaxRecord)
	}
	if err := r.readBody(int(size)); err != nil {
		return 0, nil, err
	}
	crc := crc32.Update(crc32.Update(0, castagnoli, r.hdr[:12]), castagnoli, r.buf)
	if want := binary.LittleEndian.Uint32(r.hdr[12:]); crc != want {
		return 0, nil, fmt.Errorf("%w: record at offset %d: CRC-32C %#08x, computed %#08x", ErrCorrupt, r.off, want, crc)
	}
	if err := validate(r.buf); err != nil {
		return 0, nil, fmt.Errorf("%w: record at offset %d: %v", ErrCorrupt, r.off, err)
	}
	r.off += RecordHeaderLen + int64(size)
	return rxTime, r.buf, nil
}

// readBody reads a record's n message bytes into r.buf, growing it only as the
// bytes arrive.
func (r *Reader) readBody(n int) error {
	r.buf = r.buf[:0]
	for len(r.buf) < n {
		chunk := min(n-len(r.buf), readChunk)
		r.buf = slices.Grow(r.buf, chunk)
		got, err := io.ReadFull(r.r, r.buf[len(r.buf):len(r.buf)+chunk])
		r.buf = r.buf[:len(r.buf)+got]
		if err != nil {
			return truncated("record", r.off, RecordHeaderLen+len(r.buf), RecordHeaderLen+n, err)
		}
	}
	return nil
}
