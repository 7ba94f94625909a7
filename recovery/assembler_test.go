package recovery

import (
	"testing"

	"github.com/tickcast/tickcast/wire"
)

func feedPackets(t *testing.T, a *Assembler, pkts [][]byte) []Book {
	t.Helper()
	var got []Book
	for _, b := range pkts {
		p, err := wire.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		a.Packet(p, func(b *Book) { got = append(got, *b.Clone()) })
	}
	return got
}

func TestAssemblerRebuildsAVerifiedBook(t *testing.T) {
	f := newTestFeed(t, 3, 50)
	pkts := encodeBook(t, f, 2, 300) // small packets: a book spans many
	if len(pkts) < 5 {
		t.Fatalf("%d packets, want a book over several", len(pkts))
	}
	a := NewAssembler(testChannel)
	got := feedPackets(t, a, pkts)
	if len(got) != 1 {
		t.Fatalf("%d books, want 1; stats %+v", len(got), a.Stats())
	}
	b := got[0]
	if b.Session != 77 || b.LastSeq != f.seq || b.Total != 3 || b.Instrument.Def.Instrument != 2 || b.Instrument.Def.PriceExp != -2 {
		t.Fatalf("book %+v", b)
	}
	if b.Instrument.Book.Checksum() != f.sums()[2] {
		t.Fatal("the assembled book differs from the feed's")
	}
}

func TestAssemblerDropsABookMissingAPacket(t *testing.T) {
	f := newTestFeed(t, 2, 50)
	a := NewAssembler(testChannel)
	for drop := range len(encodeBook(t, f, 1, 300)) {
		pkts := encodeBook(t, f, 1, 300)
		pkts = append(pkts[:drop:drop], pkts[drop+1:]...)
		if got := feedPackets(t, a, pkts); len(got) != 0 {
			t.Fatalf("packet %d lost, yet a book came out", drop)
		}
	}
	// The next whole copy is taken.
	if got := feedPackets(t, a, encodeBook(t, f, 1, 300)); len(got) != 1 {
		t.Fatalf("%d books after the losses; stats %+v", len(got), a.Stats())
	}
	if st := a.Stats(); st.Mismatch+st.Broken == 0 {
		t.Fatalf("stats %+v: the broken books were not counted", st)
	}
}

func TestAssemblerIgnoresOtherChannelsAndLivePackets(t *testing.T) {
	f := newTestFeed(t, 1, 5)
	a := NewAssembler(testChannel + 1)
	if got := feedPackets(t, a, encodeBook(t, f, 1, 1200)); len(got) != 0 {
		t.Fatal("a book of another channel")
	}
	live := wire.Header{Channel: testChannel, Session: 77, Seq: 1, Count: 0, Flags: wire.FlagHeartbeat}.Append(nil)
	a = NewAssembler(testChannel)
	feedPackets(t, a, [][]byte{live})
	if st := a.Stats(); st.Malformed != 1 || st.Packets != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// FuzzAssembler feeds arbitrary datagrams (a recovery group is a network
// input): they are counted and dropped, never a panic, and a book that
// comes out always matches its checksum.
func FuzzAssembler(f *testing.F) {
	tf := newTestFeed(f, 2, 4)
	for _, p := range encodeBook(f, tf, 1, 200) {
		f.Add(p)
	}
	f.Add([]byte("TC"))
	a := NewAssembler(testChannel)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := wire.Parse(b)
		if err != nil {
			return
		}
		a.Packet(p, func(b *Book) {
			if !b.Instrument.Verify(b.Sum) || !b.Instrument.HasDef || b.Sum.Instrument != b.Instrument.Def.Instrument {
				t.Fatalf("a book that does not match its checksum: %+v", b.Sum)
			}
		})
	})
}
