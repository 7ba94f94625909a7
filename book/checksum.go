package book

import (
	"encoding/binary"
	"hash/crc32"
	"unsafe"

	"github.com/tickcast/tickcast/wire"
)

// castagnoli is the CRC-32C table; hash/crc32 uses the CPU's CRC32
// instruction with it where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// levelLen is the encoded size of one level in the checksum: i64 price, i64 qty.
const levelLen = 16

// littleEndian reports whether a Level's memory is already its checksum
// encoding (two little-endian int64s), so [Checksum] can hash it in place.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Checksum returns the book checksum of DESIGN.md, "Market messages",
// BookChecksum: the CRC-32C (Castagnoli) of the whole book, bids best to worst
// then asks best to worst, each level as its i64 price then its i64 qty,
// little-endian. An empty book's checksum is 0, the CRC of no bytes.
//
// Checksum does not allocate. It copies levels into a chunk buffer inside the
// book, so it is not safe to call concurrently with anything else on b, reads
// included.
func (b *Book) Checksum() uint32 {
	crc := b.crc.update(0, b.sides[wire.Bid], true)
	return b.crc.update(crc, b.sides[wire.Ask], true)
}

// Checksum returns the book checksum (see [Book.Checksum]) of a book whose
// bids, best to worst, are bids and whose asks, best to worst, are asks. It
// does not allocate on little-endian machines, where it hashes the levels in
// place.
func Checksum(bids, asks []Level) uint32 {
	if !littleEndian {
		var s crcScratch // escapes to the heap: crc32.Update keeps its argument opaque
		crc := s.update(0, bids, false)
		return s.update(crc, asks, false)
	}
	crc := crc32.Update(0, castagnoli, levelBytes(bids))
	return crc32.Update(crc, castagnoli, levelBytes(asks))
}

// levelBytes returns the memory of ls as bytes. On a little-endian machine
// these are exactly the levels' checksum encoding: Level is two int64s with no
// padding.
func levelBytes(ls []Level) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ls))), len(ls)*levelLen)
}

// encodeInPlace overwrites each level's memory with its checksum encoding
// (little-endian price, then qty), which on a little-endian machine it
// already is.
func encodeInPlace(ls []Level) {
	p := levelBytes(ls)
	for i, l := range ls {
		binary.LittleEndian.PutUint64(p[i*levelLen:], uint64(l.Price))
		binary.LittleEndian.PutUint64(p[i*levelLen+8:], uint64(l.Qty))
	}
}

// crcChunk is how many levels crcScratch copies for each crc32.Update.
const crcChunk = 64

// crcScratch is a fixed buffer that levels are copied into, a chunk at a time
// and in checksum order, so a book of any depth is hashed without allocating.
type crcScratch struct {
	levels [crcChunk]Level
}

// update returns crc updated with the encoding of ls, last level first when
// reverse is set.
func (s *crcScratch) update(crc uint32, ls []Level, reverse bool) uint32 {
	for len(ls) > 0 {
		n := min(len(ls), crcChunk)
		out := s.levels[:n]
		if reverse {
			chunk := ls[len(ls)-n:]
			for i, l := range chunk {
				out[n-1-i] = l
			}
			ls = ls[:len(ls)-n]
		} else {
			copy(out, ls)
			ls = ls[n:]
		}
		if !littleEndian {
			encodeInPlace(out)
		}
		crc = crc32.Update(crc, castagnoli, levelBytes(out))
	}
	return crc
}
