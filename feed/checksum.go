package feed

import "github.com/tickcast/tickcast/wire"

// Checksum returns the BookChecksum message of the instrument's book
// (DESIGN.md, BookChecksum): its CRC-32C, its level counts (saturated at
// 65535) and its latest exchange time.
func (in *Instrument) Checksum() wire.BookChecksum {
	return wire.BookChecksum{
		Instrument: in.Def.Instrument,
		CRC:        in.Book.Checksum(),
		Bids:       uint16(min(in.Book.Depth(wire.Bid), 0xffff)),
		Asks:       uint16(min(in.Book.Depth(wire.Ask), 0xffff)),
		ExchTime:   in.ExchTime,
	}
}

// Verify reports whether the book agrees with the publisher's checksum c:
// the same CRC and the same number of levels on both sides. A book that
// disagrees after everything before c was applied is wrong (DESIGN.md,
// BookChecksum). Whether the book is complete enough to be checked
// (Synced) is the caller's question.
func (in *Instrument) Verify(c wire.BookChecksum) bool {
	return in.Book.Checksum() == c.CRC && in.Book.Depth(wire.Bid) == int(c.Bids) && in.Book.Depth(wire.Ask) == int(c.Asks)
}

// Cleared returns how many instruments were cleared since their last
// checksum: they owe one after the event (DESIGN.md, BookClear).
func (s *State) Cleared() int { return s.cleared }

// DueChecksums appends to dst the checksum of every defined instrument
// whose book changed since its last one (clearedOnly: only of those cleared
// since), in order of first appearance, and marks them checksummed; an
// undefined instrument is marked without a checksum, as nobody can use it.
// With a dst of enough capacity it allocates nothing.
func (s *State) DueChecksums(dst []wire.BookChecksum, clearedOnly bool) []wire.BookChecksum {
	for _, in := range s.tab.All() {
		if clearedOnly && !in.Cleared || !in.Dirty {
			continue
		}
		if in.Cleared {
			s.cleared--
		}
		in.Cleared, in.Dirty = false, false
		if in.HasDef {
			dst = append(dst, in.Checksum())
		}
	}
	return dst
}
