// Package feed is the state of one channel's instruments, the "feed state"
// of DESIGN.md ("The one idea": publisher, relay and subscriber each keep
// it): the instrument table, the application of market messages to
// definitions, books and statuses, the BookChecksums of those books, and
// snapshots, encoded into snapshot packets on one side and applied from them
// on the other.
//
// A [State] holds every [Instrument] of a channel, in order of first
// appearance (the order snapshots list them). [State.Apply] applies one
// market message (DESIGN.md, "Market messages"): InstrumentDef sets the
// definition, LevelUpdate and BookClear change the book (package book),
// InstrumentStatus sets the status, Trade moves only the exchange clock, and
// BookChecksum changes nothing: the caller compares it with
// [Instrument.Verify] or sends its own from [Instrument.Checksum]. Applying
// allocates nothing once every instrument and book has been seen.
//
// The same State serves every role. The publisher's checksum schedule reads
// which books changed, or were cleared, since their last checksum
// ([State.DueChecksums]); the subscriber reads which books are complete
// ([Instrument.Synced]) and which a snapshot touched ([Instrument.Snapshot]).
//
// Snapshots (DESIGN.md, "Control messages": a snapshot is packets flagged
// snapshot holding, per instrument, InstrumentDef, BookClear and the levels,
// closed by SnapshotEnd) are taken in two steps so the owner of the state
// spends only a copy on them: [State.Capture] deep-copies the books on the
// goroutine that owns the State, and [Snapshot.Encode] packs the copy into
// packets anywhere else. [State.ApplySnapshot] applies such packets to a
// State and reports the SnapshotEnd that closes them.
//
// A State is not safe for concurrent use: one goroutine owns it (DESIGN.md,
// "Performance principles": single writer).
package feed
