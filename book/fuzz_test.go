package book

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// opLen is the size of one update in FuzzApply's input: u8 side (any value,
// as a LevelUpdate from the network may carry), i16 price offset, i32 qty.
const opLen = 7

// FuzzApply applies arbitrary update sequences, as a subscriber applies
// whatever the feed decodes, and checks the book against the reference after
// each: it never panics and never disagrees.
func FuzzApply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 5, 0, 0, 0, 1, 1, 0, 7, 0, 0, 0})                          // one bid, one ask
	f.Add([]byte{0, 1, 0, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0})                          // insert then remove
	f.Add([]byte{2, 1, 0, 5, 0, 0, 0, 255, 0, 0, 1, 0, 0, 0})                        // unknown sides
	f.Add([]byte{0, 0, 128, 255, 255, 255, 255, 1, 255, 127, 0, 0, 0, 128, 0, 0, 0}) // extremes, a trailing partial op
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Book
		ref := newRefBook()
		r := rand.New(rand.NewPCG(0, 0))
		for ; len(data) >= opLen; data = data[opLen:] {
			side := wire.Side(data[0])
			price := 1_000_000 + int64(int16(binary.LittleEndian.Uint16(data[1:])))
			qty := int64(int32(binary.LittleEndian.Uint32(data[3:])))
			b.Apply(side, price, qty)
			if side <= wire.Ask {
				ref.apply(side, price, qty)
			}
			check(t, &b, ref, r)
			if t.Failed() {
				t.FailNow()
			}
		}
	})
}
