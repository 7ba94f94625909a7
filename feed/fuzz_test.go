package feed_test

import (
	"maps"
	"testing"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

// FuzzApply applies the messages of an arbitrary packet to a State: nothing
// may panic, Apply answers for exactly the market messages, every book
// verifies against its own checksum, and the State survives a snapshot round
// trip (capture, encode at limit, apply to a fresh State) unchanged.
func FuzzApply(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s.data, s.limit)
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		p, err := wire.Parse(data)
		if err != nil {
			return
		}
		var s feed.State
		for it := p.Messages(); it.Next(); {
			m := it.Message()
			in := s.Apply(m)
			market := m.Type() >= wire.TypeInstrumentDef && m.Type() <= wire.TypeBookChecksum
			if (in != nil) != market {
				t.Fatalf("Apply(%v) = %v", m.Type(), in)
			}
			if in != nil {
				if id, _ := m.Instrument(); in.Def.Instrument != id {
					t.Fatalf("Apply(%v) of instrument %d returned %d", m.Type(), id, in.Def.Instrument)
				}
			}
		}
		for _, in := range s.All() {
			if !in.Verify(in.Checksum()) {
				t.Fatalf("instrument %d: its own checksum does not verify", in.Def.Instrument)
			}
		}
		lim := max(int(limit), feed.MinSnapshotPacket)
		sn := s.Capture(0, p.Seq)
		var dst feed.State
		ended := false
		err = sn.Encode(wire.Header{Channel: p.Channel, Session: p.Session}, lim, func(b []byte) error {
			if len(b) > lim {
				t.Fatalf("snapshot packet of %d bytes, limit %d", len(b), lim)
			}
			q, err := wire.Parse(b)
			if err != nil {
				t.Fatalf("snapshot packet: %v", err)
			}
			if ended {
				t.Fatal("a packet after SnapshotEnd")
			}
			end, ok := dst.ApplySnapshot(q)
			if ok && (end.LastSeq != p.Seq || int(end.Instruments) != len(sn.Instruments)) {
				t.Fatalf("SnapshotEnd %+v", end)
			}
			ended = ok
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !ended {
			t.Fatal("no SnapshotEnd")
		}
		if !maps.Equal(dst.Sums(), s.Sums()) {
			t.Fatalf("round trip: sums %v, want %v", dst.Sums(), s.Sums())
		}
		sameInstruments(t, &s, &dst)
	})
}

// FuzzApplySnapshot applies an arbitrary packet as a snapshot packet to a
// State holding books: nothing may panic, SnapshotEnd is reported exactly
// when the packet holds a valid one, and the instruments marked are those
// whose InstrumentDef or BookClear came before it.
func FuzzApplySnapshot(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s.data)
	}
	base := randomFeed(1, 300)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := wire.Parse(data)
		if err != nil {
			return
		}
		s := build(base)
		end, ok := s.ApplySnapshot(p)
		var want *wire.SnapshotEnd
		marked := map[uint32]bool{}
		for it := p.Messages(); it.Next(); {
			m := it.Message()
			if m.Type() == wire.TypeSnapshotEnd {
				if e, err := wire.DecodeSnapshotEnd(m.Bytes()); err == nil {
					want = &e
				}
				break
			}
			if m.Type() == wire.TypeInstrumentDef || m.Type() == wire.TypeBookClear {
				id, _ := m.Instrument()
				marked[id] = true
			}
		}
		if ok != (want != nil) || ok && end != *want {
			t.Fatalf("SnapshotEnd %+v %v, want %+v", end, ok, want)
		}
		for _, in := range s.All() {
			if in.Snapshot != marked[in.Def.Instrument] {
				t.Fatalf("instrument %d: snapshot mark %v, want %v", in.Def.Instrument, in.Snapshot, marked[in.Def.Instrument])
			}
		}
	})
}
