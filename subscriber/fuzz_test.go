package subscriber

import (
	"maps"
	"net/netip"
	"sync"
	"testing"

	"github.com/tickcast/tickcast/internal/mcast/mcasttest"
	"github.com/tickcast/tickcast/publisher/synth"
	"github.com/tickcast/tickcast/wire"
)

// fedSub is one subscriber fed by hand: datagrams go through the same path
// as from the socket (validation, arbiter, dispatcher), without Run.
type fedSub struct {
	sub *Subscriber
}

var (
	intakeOnce sync.Once
	intakeSub  *fedSub
)

// newIntake builds a subscriber on a fresh group (its sockets stay unused)
// and feeds it a valid session start, so it holds real books.
func newIntake(tb testing.TB) *fedSub {
	intakeOnce.Do(func() {
		sub, err := New(Config{
			Channel: 3,
			Lines:   []Line{{Group: netip.AddrPortFrom(mcasttest.Group(tb), 40000), Interface: mcasttest.Interface}},
		})
		if err != nil {
			tb.Fatal(err)
		}
		in := &fedSub{sub: sub}
		gen, err := synth.NewGenerator(synth.Config{Instruments: 4, Levels: 20, Seed: 1})
		if err != nil {
			tb.Fatal(err)
		}
		msgs := gen.Definitions(nil)
		msgs = gen.Next(msgs, 500, 1)
		seq := uint64(1)
		for len(msgs) > 0 {
			var b wire.Builder
			b.Reset(make([]byte, 0, 1200), 1200, wire.Header{Channel: 3, Session: 77, Seq: seq})
			for len(msgs) > 0 {
				m, _ := wire.ReadMessage(msgs)
				if !b.AddRaw(m.Bytes()) {
					break
				}
				msgs = msgs[m.Len():]
				seq++
			}
			in.feed(b.Finish(1))
		}
		intakeSub = in
	})
	return intakeSub
}

func (in *fedSub) feed(b []byte) {
	in.sub.in.Inject(0, [][]byte{b}, 1)
}

func (in *fedSub) malformed() uint64 { return in.sub.Stats().Lines[0].Malformed }

func (in *fedSub) sums() map[uint32]uint32 {
	var sums map[uint32]uint32
	in.sub.in.Do(func() { sums = in.sub.disp.checksums().Sums })
	return sums
}

// FuzzIntake feeds arbitrary datagrams to the subscriber's intake: nothing
// may panic, and a datagram that is not a valid packet must be counted and
// leave every book as it was.
func FuzzIntake(f *testing.F) {
	live := wire.Header{Channel: 3, Session: 77, Seq: 1}.Append(nil)
	f.Add(live)                                                                                                                         // an empty packet
	f.Add(wire.Header{Flags: wire.FlagHeartbeat, Channel: 3, Session: 77, Seq: 99999}.Append(nil))                                      // a heartbeat far ahead: a tail gap
	f.Add(wire.Header{Flags: wire.FlagEndOfSession, Channel: 3, Session: 77, Seq: 5}.Append(nil))                                       // an end of session in the past
	f.Add(wire.LevelUpdate{Instrument: 1, Price: 5, Qty: 1}.Append(wire.Header{Channel: 3, Count: 1, Session: 78, Seq: 1}.Append(nil))) // a new session
	f.Add(wire.LevelUpdate{Instrument: 1, Price: 5, Qty: 1}.Append(wire.Header{Channel: 3, Count: 2, Session: 77, Seq: 9}.Append(nil))) // count mismatch
	f.Add([]byte("TC\x01"))                                                                                                             // truncated header
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := newIntake(t)
		before := in.sums()
		bad := in.malformed()
		_, err := wire.Parse(data)
		in.feed(data)
		if err != nil {
			if in.malformed() != bad+1 {
				t.Fatalf("malformed datagram not counted (%v)", err)
			}
			if after := in.sums(); !maps.Equal(before, after) {
				t.Fatalf("a malformed datagram changed the books (%v)", err)
			}
		}
	})
}
