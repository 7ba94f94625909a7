package publisher

import "github.com/tickcast/tickcast/wire"

// batch is one hand-off from a source to the sequencer: whole messages,
// concatenated. Batches cycle between the free list and the input queue, so
// the hand-off does not allocate.
type batch struct{ b []byte }

// nextMessage returns the market message at the start of b, or ok=false if b
// does not start with a whole message that may be sequenced (sources are
// in-process code, but a bad one must not crash the sequencer).
func nextMessage(b []byte) (wire.Message, bool) {
	m, err := wire.ReadMessage(b)
	if err != nil || m.Type() >= wire.TypeRetransmitRequest {
		return wire.Message{}, false // control messages never enter the sequenced stream
	}
	return m, true
}
