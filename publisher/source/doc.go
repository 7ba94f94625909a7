// Package source defines what every tick source of the publisher implements
// (DESIGN.md, "Packages": sources → normalizer → sequencer).
//
// A [Source] normalizes exchange data to wire-format market messages and hands
// them, a batch at a time, to a [Sink]. Sources never see sequence numbers or
// packets: the publisher's sequencer, the single writer of each sequence space,
// assigns them.
package source
