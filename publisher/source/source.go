package source

import "context"

// Sink receives normalized market data from a source.
type Sink interface {
	// Publish hands over msgs: one or more whole wire-format market messages
	// (InstrumentDef, LevelUpdate, Trade, BookClear, InstrumentStatus,
	// BookChecksum), concatenated, each with its 4-byte message header. A batch
	// should end on an event boundary (a LevelUpdate with the end-of-event flag,
	// or a message that is an event by itself). The sink copies what it keeps:
	// the source may reuse msgs as soon as Publish returns. Publish may block
	// briefly when the publisher is behind (back-pressure); it returns an error
	// only when the sink is closed.
	Publish(msgs []byte) error
}

// Source produces market data until its context ends.
type Source interface {
	// Run delivers data to sink until ctx ends (it then returns nil) or the
	// source fails for good. A source first publishes an InstrumentDef for
	// every instrument it serves, then the data; it publishes BookClear and
	// the full book again whenever its own view was rebuilt.
	Run(ctx context.Context, sink Sink) error
}

// SinkFunc adapts a function to the [Sink] interface.
type SinkFunc func(msgs []byte) error

// Publish calls f(msgs).
func (f SinkFunc) Publish(msgs []byte) error { return f(msgs) }
