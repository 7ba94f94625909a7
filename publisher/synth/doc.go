// Package synth is the synthetic tick source: the publisher's embedded default
// for the demo and the benchmarks (DESIGN.md, "Packages": publisher/... sources).
//
// A [Generator] keeps a consistent price-level book per instrument (a random-walk
// mid price, a spread of one to a few ticks, about Config.Levels levels a side at
// tick spacing) and turns random book events into wire-format messages:
//
//   - quantity changes near the top of the book (the most frequent event),
//   - levels added and removed, which keep the depth around Config.Levels,
//   - mid-price moves, which shift the book (levels leave one side and join the
//     other),
//   - trades: a Trade at the best price, then the LevelUpdate it caused.
//
// Every event is one or more messages whose last is a LevelUpdate with the
// end-of-event flag; a book is never crossed after an event. The same
// [Config.Seed] gives the same message stream. The generator is unpaced and does
// not allocate, for benchmarks and tests.
//
// A [Source] paces a generator for the publisher ([source.Source]). Its schedule
// is coordinated-omission friendly, as wrk2's is: data message i of a run is
// scheduled at start + i/Rate (with optional bursts) and carries that scheduled
// time as its exchange time, so latency measured downstream includes any delay
// the source itself suffered. A source that falls behind keeps the schedule and
// counts late ticks instead of slowing down.
package synth
