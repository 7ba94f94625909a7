package book

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// crc32cBitwise is a bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78),
// independent of hash/crc32, to check the checksum against.
func crc32cBitwise(p []byte) uint32 {
	crc := ^uint32(0)
	for _, b := range p {
		crc ^= uint32(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x82F63B78
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

// encodeLevels is the DESIGN.md encoding built by hand: each level as i64
// price then i64 qty, little-endian, in the order given.
func encodeLevels(ls ...Level) []byte {
	var p []byte
	for _, l := range ls {
		p = binary.LittleEndian.AppendUint64(p, uint64(l.Price))
		p = binary.LittleEndian.AppendUint64(p, uint64(l.Qty))
	}
	return p
}

func TestCRC32CBitwiseCheckValue(t *testing.T) {
	// The standard CRC-32C check value.
	if got := crc32cBitwise([]byte("123456789")); got != 0xE3069283 {
		t.Fatalf("crc32cBitwise(123456789) = %#x, want 0xe3069283", got)
	}
}

func TestChecksumEmpty(t *testing.T) {
	var b Book
	if got := b.Checksum(); got != 0 {
		t.Errorf("empty Book.Checksum = %#x, want 0", got)
	}
	if got := Checksum(nil, nil); got != 0 {
		t.Errorf("Checksum(nil, nil) = %#x, want 0", got)
	}
}

func TestChecksumKnownAnswer(t *testing.T) {
	var b Book
	// Applied out of order: the checksum follows the book's order, not the
	// order of the updates.
	b.Apply(wire.Ask, 105, 11)
	b.Apply(wire.Bid, 100, 7)
	b.Apply(wire.Ask, 102, 3)
	b.Apply(wire.Bid, 101, 5)

	// Bids best to worst, then asks best to worst.
	p := encodeLevels(Level{101, 5}, Level{100, 7}, Level{102, 3}, Level{105, 11})
	want := crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))
	if got := crc32cBitwise(p); got != want {
		t.Fatalf("hash/crc32 and the bitwise CRC-32C disagree: %#x vs %#x", want, got)
	}
	// Computed independently (Python, bit-at-a-time CRC-32C over struct.pack
	// ('<qq', …)); catches a change of order or endianness.
	const fixed = 0x4c7188db
	if want != fixed {
		t.Fatalf("CRC of the hand-built bytes = %#x, want %#x", want, fixed)
	}
	if got := b.Checksum(); got != fixed {
		t.Errorf("Book.Checksum = %#x, want %#x", got, fixed)
	}
	bids, asks := b.Top(wire.Bid, nil, 10), b.Top(wire.Ask, nil, 10)
	if got := Checksum(bids, asks); got != fixed {
		t.Errorf("Checksum = %#x, want %#x", got, fixed)
	}
	var s crcScratch
	if got := s.update(s.update(0, bids, false), asks, false); got != fixed {
		t.Errorf("crcScratch.update forwards = %#x, want %#x", got, fixed)
	}
}

// TestEncodeInPlace checks the encoding big-endian machines hash against the
// hand-built bytes.
func TestEncodeInPlace(t *testing.T) {
	ls := []Level{{101, 5}, {-1, 1 << 40}, {1<<63 - 1, -1 << 63}}
	want := encodeLevels(ls...)
	encodeInPlace(ls)
	if got := levelBytes(ls); !bytes.Equal(got, want) {
		t.Errorf("encoded %x, want %x", got, want)
	}
}

func TestChecksumNegativeValues(t *testing.T) {
	var b Book
	b.Apply(wire.Bid, -5, 1<<40)
	const fixed = 0x48258bc8 // Python, as above
	if got := b.Checksum(); got != fixed {
		t.Errorf("Book.Checksum = %#x, want %#x", got, fixed)
	}
}

// TestChecksumDeep checks books deeper than the chunk buffer against the
// bitwise CRC of the hand-built bytes.
func TestChecksumDeep(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, depth := range []int{1, crcChunk - 1, crcChunk, crcChunk + 1, 2 * crcChunk, 777} {
		var b Book
		for b.Depth(wire.Bid) < depth {
			b.Apply(wire.Bid, r.Int64N(1_000_000), r.Int64N(1000)+1)
		}
		for b.Depth(wire.Ask) < depth/2 {
			b.Apply(wire.Ask, r.Int64N(1_000_000), r.Int64N(1000)+1)
		}
		bids, asks := b.Top(wire.Bid, nil, depth), b.Top(wire.Ask, nil, depth)
		want := crc32cBitwise(encodeLevels(append(bids, asks...)...))
		if got := b.Checksum(); got != want {
			t.Errorf("depth %d: Book.Checksum = %#x, want %#x", depth, got, want)
		}
		if got := Checksum(bids, asks); got != want {
			t.Errorf("depth %d: Checksum = %#x, want %#x", depth, got, want)
		}
		var s crcScratch
		if got := s.update(s.update(0, bids, false), asks, false); got != want {
			t.Errorf("depth %d: crcScratch.update forwards = %#x, want %#x", depth, got, want)
		}
	}
}

func TestChecksumAllocs(t *testing.T) {
	var b Book
	for p := int64(0); p < 1000; p++ {
		b.Apply(wire.Bid, p, 1)
		b.Apply(wire.Ask, 2000+p, 1)
	}
	if allocs := testing.AllocsPerRun(20, func() { b.Checksum() }); allocs != 0 {
		t.Errorf("Book.Checksum allocated %v times", allocs)
	}
	bids, asks := b.Top(wire.Bid, nil, 1000), b.Top(wire.Ask, nil, 1000)
	if !littleEndian {
		t.Skip("Checksum allocates on big-endian machines")
	}
	if allocs := testing.AllocsPerRun(20, func() { Checksum(bids, asks) }); allocs != 0 {
		t.Errorf("Checksum allocated %v times", allocs)
	}
}
