package feed

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
)

// Digest is one number for every book of a channel at one sequence, so two
// processes can tell whether their books are equal by comparing a line of
// text: what `tickcast publish` prints at the end of its session and
// `tickcast subscribe` at exit, compared by the multi-host lab (deploy/lab).
// It is derived from the books' CRC-32Cs (DESIGN.md, BookChecksum).
type Digest struct {
	Instruments int    // books with a definition
	CRC         uint32 // CRC-32C of (instrument, book CRC) pairs, by instrument id, each as two u32 little-endian
	Seq         uint64 // the last sequence the books reflect
	// Recovering is true when the books were still being recovered (a
	// subscriber awaiting a snapshot or the recovery loop): incomplete.
	Recovering bool
}

// NewDigest digests sums, the CRC-32C of each instrument's book by id (as
// [State.Sums] and [Snapshot.Sums] return them), reflecting seq.
func NewDigest(sums map[uint32]uint32, seq uint64) Digest {
	ids := make([]uint32, 0, len(sums))
	for id := range sums {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b [8]byte
	var crc uint32
	for _, id := range ids {
		binary.LittleEndian.PutUint32(b[:4], id)
		binary.LittleEndian.PutUint32(b[4:], sums[id])
		crc = crc32.Update(crc, castagnoli, b[:])
	}
	return Digest{Instruments: len(ids), CRC: crc, Seq: seq}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// digestPrefix starts the line [Digest.String] writes.
const digestPrefix = "books: "

// String is the line printed: "books: 100 instruments, crc32c 1a2b3c4d at
// sequence 123456", with " (recovering)" appended when incomplete.
func (d Digest) String() string {
	s := fmt.Sprintf("%s%d instruments, crc32c %08x at sequence %d", digestPrefix, d.Instruments, d.CRC, d.Seq)
	if d.Recovering {
		s += " (recovering)"
	}
	return s
}

// ParseDigest reads a line written by [Digest.String]; ok is false for any
// other line.
func ParseDigest(line string) (d Digest, ok bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, digestPrefix) {
		return Digest{}, false
	}
	rest, rec := strings.CutSuffix(line, " (recovering)")
	n, err := fmt.Sscanf(rest, digestPrefix+"%d instruments, crc32c %x at sequence %d", &d.Instruments, &d.CRC, &d.Seq)
	if err != nil || n != 3 {
		return Digest{}, false
	}
	d.Recovering = rec
	return d, true
}

// Equal reports whether d and o describe the same books at the same
// sequence, both complete.
func (d Digest) Equal(o Digest) bool {
	return !d.Recovering && !o.Recovering && d.Instruments == o.Instruments && d.CRC == o.CRC && d.Seq == o.Seq
}
