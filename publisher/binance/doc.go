// Package binance is the Binance spot source of the publisher (DESIGN.md,
// "Packages": publisher/... sources → normalizer → sequencer).
//
// A [Source] subscribes to the combined WebSocket streams <symbol>@depth@100ms
// and <symbol>@trade of every configured symbol, keeps each symbol's order book
// in step with Binance's documented snapshot + diff procedure, and hands
// normalized wire-format messages (DESIGN.md, "Market messages") to a
// [source.Sink]:
//
//   - at start, an InstrumentDef and an InstrumentStatus resyncing per symbol;
//   - when a REST snapshot is applied, BookClear, the snapshot's levels as
//     LevelUpdates (the last one flagged end of event) and InstrumentStatus ok;
//   - every depth event as LevelUpdates, the last one flagged end of event;
//   - every trade as a Trade with its aggressor side;
//   - InstrumentStatus stale when a symbol is silent for [Config.StaleAfter],
//     ok again when its data resumes, and resyncing whenever its book broke.
//
// A break (a gap in update ids, a malformed depth event, a snapshot that does
// not bridge) resyncs that symbol alone: the combined connection and the other
// symbols on it are untouched. A lost connection resyncs its symbols and is
// redialled with jittered exponential backoff, never more than 300 attempts per
// 5 minutes. A connection is replaced before Binance's 24-hour cut by dialling
// the new one first and switching over once it carries every symbol's data
// (update ids prove the overlap), so a planned reconnect loses nothing.
//
// [Source.SetSymbols] adds and removes symbols while the source runs (issue
// 14): a new symbol is introduced (InstrumentDef, InstrumentStatus
// resyncing) and synced as at start, joining a connection that has room by
// Binance's live SUBSCRIBE; a removed one is unsubscribed and published as
// BookClear then InstrumentStatus halted, its last messages. Symbols that
// stay keep their instrument ids and are not disturbed.
//
// Prices and quantities are parsed from Binance's decimal strings to
// fixed-point mantissas exactly, without floats and without allocating
// ([ParseDecimal]).
//
// Package binancetest is an in-process Binance (REST snapshot + combined
// WebSocket streams) that misbehaves on command; the tests run against it.
package binance
