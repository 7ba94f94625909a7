// Package recovery provides the recovery loop (DESIGN.md, "Recovery
// ladder" step 4, without a link): a sender that cycles through every
// instrument's definition, status and book on its own A/B multicast groups
// at a configured bandwidth cap, as CME's Market Recovery feed does, and the
// receiving side's assembler that turns those packets back into verified
// books.
//
// A late joiner (or a subscriber that lost a gap for good) joins the
// recovery groups, takes each book as it comes round, applies the live
// messages after the sequence that book reflects, and leaves the groups when
// every book is whole. The loop's cost does not grow with the number of
// receivers, and it answers no one, so it cannot be used as an amplifier.
//
// Each instrument goes out as one small snapshot: packets flagged snapshot
// whose Seq is the last live sequence the book reflects, holding its
// InstrumentDef, a BookClear, its levels, its InstrumentStatus, its
// BookChecksum (so a receiver can tell a book that lost a packet from a
// whole one) and a SnapshotEnd announcing how many instruments the channel
// has. Every other slot goes to the instrument whose book changed most
// recently since the loop last sent it, so busy books come round twice as
// often as idle ones.
package recovery
