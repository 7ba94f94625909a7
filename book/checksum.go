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
// Checksum does not allocate. It uses a chunk buffer inside the book, so it is
// not safe to call concurrently with anything else on b, reads included.
func (b *Book) Checksum() uint32 {
	w := &b.crc
	w.reset()
	for _, side := range [2]wire.Side{wire.Bid, wire.Ask} {
		ls := b.sides[side]
		for i := len(ls) - 1; i >= 0; i-- {
			w.level(ls[i])
		}
	}
	return w.sum()
}

// Checksum returns the book checksum (see [Book.Checksum]) of a book whose
// bids, best to worst, are bids and whose asks, best to worst, are asks. It
// does not allocate on little-endian machines.
func Checksum(bids, asks []Level) uint32 {
	if !littleEndian {
		return checksumPortable(bids, asks)
	}
	crc := crc32.Update(0, castagnoli, levelBytes(bids))
	return crc32.Update(crc, castagnoli, levelBytes(asks))
}

// checksumPortable is [Checksum] for big-endian machines, where the levels
// must be encoded first. Its scratch buffer escapes to the heap.
func checksumPortable(bids, asks []Level) uint32 {
	var w crcScratch
	for _, l := range bids {
		w.level(l)
	}
	for _, l := range asks {
		w.level(l)
	}
	return w.sum()
}

// levelBytes returns the memory of ls as bytes. On a little-endian machine
// these are exactly the levels' checksum encoding: Level is two int64s with no
// padding.
func levelBytes(ls []Level) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ls))), len(ls)*levelLen)
}

// crcChunk is how many levels crcScratch encodes before each crc32.Update.
const crcChunk = 32

// crcScratch computes a CRC-32C of levels by encoding them into a fixed
// buffer and hashing it a chunk at a time, so a book of any depth is hashed
// without allocating.
type crcScratch struct {
	crc uint32
	n   int
	buf [crcChunk * levelLen]byte
}

func (w *crcScratch) reset() { w.crc, w.n = 0, 0 }

// level appends l's encoding, hashing the buffer first when it is full.
func (w *crcScratch) level(l Level) {
	if w.n == len(w.buf) {
		w.flush()
	}
	binary.LittleEndian.PutUint64(w.buf[w.n:], uint64(l.Price))
	binary.LittleEndian.PutUint64(w.buf[w.n+8:], uint64(l.Qty))
	w.n += levelLen
}

func (w *crcScratch) flush() {
	w.crc = crc32.Update(w.crc, castagnoli, w.buf[:w.n])
	w.n = 0
}

// sum hashes what is left in the buffer and returns the CRC.
func (w *crcScratch) sum() uint32 {
	w.flush()
	return w.crc
}
