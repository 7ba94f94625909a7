package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxStreamPacket is the largest packet accepted on a link stream. A length
// prefix above it is malformed input: the stream is closed.
const MaxStreamPacket = 64 << 10

// lenPrefix is the size of the u32 length in front of every stream packet.
const lenPrefix = 4

// errFrameLength reports a stream length prefix above MaxStreamPacket.
var errFrameLength = errors.New("link: stream packet length out of range")

// appendFrame appends pkt preceded by its u32 little-endian length.
func appendFrame(b, pkt []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pkt)))
	return append(b, pkt...)
}

// frameReader reads length-prefixed packets from a stream. Its buffer grows to
// the largest packet seen, never beyond MaxStreamPacket.
type frameReader struct {
	r   io.Reader
	hdr [lenPrefix]byte
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, buf: make([]byte, 0, 2048)}
}

// next returns the next packet, valid until the following call. It returns
// io.EOF at a clean end of stream, an error wrapping errFrameLength for an
// absurd length and io.ErrUnexpectedEOF for a stream cut inside a packet. A
// zero-length packet is returned as such (the caller counts it malformed).
func (f *frameReader) next() ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(f.hdr[:])
	if n > MaxStreamPacket {
		return nil, fmt.Errorf("%w: %d bytes", errFrameLength, n)
	}
	if int(n) > cap(f.buf) {
		f.buf = make([]byte, 0, min(max(int(n), 2*cap(f.buf)), MaxStreamPacket))
	}
	b := f.buf[:n]
	if _, err := io.ReadFull(f.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}
