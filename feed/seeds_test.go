package feed_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/wire"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the checked-in fuzz seed corpus under testdata/fuzz")

// seed is one checked-in corpus entry: a packet and, for FuzzApply, the
// snapshot packet limit.
type seed struct {
	name  string
	data  []byte
	limit uint16
}

// seeds returns real packets as the feed carries them: live market data,
// a packet of every market type, a snapshot and its end, and a control
// packet.
func seeds() []seed {
	live := wire.Header{Channel: 1, Session: 0x5eed, Seq: 1001}
	def := wire.NewInstrumentDef(7, "BTCUSDT", "binance", -2, -8)
	every := []wire.Encoder{
		def,
		wire.LevelUpdate{Instrument: 7, Price: 6_500_000, Qty: 3, ExchTime: 10, Side: wire.Bid},
		wire.LevelUpdate{Instrument: 7, Price: 6_500_100, Qty: 4, ExchTime: 10, Side: wire.Ask, EndOfEvent: true},
		wire.Trade{Instrument: 7, Price: 6_500_100, Qty: 1, ExchTime: 11, TradeID: 99, Aggressor: wire.AggressorBuy},
		wire.InstrumentStatus{Instrument: 7, Status: wire.StatusResyncing},
		wire.BookChecksum{Instrument: 7, CRC: 0xdeadbeef, Bids: 1, Asks: 1, ExchTime: 11},
		wire.BookClear{Instrument: 7, ExchTime: 12},
		wire.LevelUpdate{Instrument: 70_000, Price: 5, Qty: -1, Side: wire.Ask, EndOfEvent: true},
	}
	var snap []wire.Encoder
	s := build(randomFeed(4, 200))
	for _, in := range s.Capture(0, 1000).Instruments[:2] {
		snap = append(snap, in.Def, wire.BookClear{Instrument: in.Def.Instrument, ExchTime: in.ExchTime})
		for l := range in.Book.Levels(wire.Bid) {
			snap = append(snap, wire.LevelUpdate{Instrument: in.Def.Instrument, Price: l.Price, Qty: l.Qty, ExchTime: in.ExchTime})
		}
		snap = append(snap, wire.InstrumentStatus{Instrument: in.Def.Instrument, Status: in.Status})
	}
	snapH := wire.Header{Flags: wire.FlagSnapshot, Channel: 1, Session: 0x5eed, Seq: 1000}
	return []seed{
		{"market-every-type", packet(live, every...), 128},
		{"market-levels", packet(live, every[1:3]...), feed.MinSnapshotPacket},
		{"random-feed", packet(live, randomFeed(5, 150)...), 1200},
		{"snapshot", packet(snapH, snap...), 200},
		{"snapshot-end", packet(snapH, wire.InstrumentStatus{Instrument: 7, Status: wire.StatusOK}, wire.SnapshotEnd{Channel: 1, Instruments: 2, LastSeq: 1000}, def), 1200},
		{"control", wire.AppendControl(nil, 1, 0x5eed, 1, wire.SnapshotRequest{Channel: 1}), 1200},
		{"heartbeat", packet(wire.Header{Flags: wire.FlagHeartbeat, Channel: 1, Session: 0x5eed, Seq: 1002}), 0},
	}
}

// TestSeedCorpus checks that the corpus under testdata/fuzz holds every
// seed (go test -run TestSeedCorpus -update-seeds rewrites it).
func TestSeedCorpus(t *testing.T) {
	for _, s := range seeds() {
		if _, err := wire.Parse(s.data); err != nil {
			t.Fatalf("seed %s: %v", s.name, err)
		}
		files := map[string]string{
			"FuzzApply":         fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\n", s.data, s.limit),
			"FuzzApplySnapshot": fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data),
		}
		for target, content := range files {
			path := filepath.Join("testdata", "fuzz", target, s.name)
			if *updateSeeds {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestSeedCorpus -update-seeds)", err)
			}
			if string(got) != content {
				t.Fatalf("%s is stale (run go test -run TestSeedCorpus -update-seeds)", path)
			}
		}
	}
}
