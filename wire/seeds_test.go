package wire_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tickcast/tickcast/wire"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the checked-in fuzz seed corpus under testdata/fuzz")

// seed is one checked-in corpus file: a real packet (or message) and, for
// FuzzSplit, the limit to split it at.
type seed struct {
	name  string
	data  []byte
	limit uint16
}

// packet builds a packet with header h holding msgs, sent at a fixed time.
func packet(h wire.Header, msgs ...wire.Encoder) []byte {
	var pb wire.Builder
	pb.Reset(nil, wire.MaxJumboPacket, h)
	for _, m := range msgs {
		if !wire.Add(&pb, m) {
			panic("seed packet too big")
		}
	}
	return pb.Finish(1_700_000_000_000_000_000)
}

// seedPackets returns real packets of every kind, as a publisher, relay or
// subscriber sends them.
func seedPackets() []seed {
	live := wire.Header{Channel: 1, Session: 0x5eed, Seq: 1001}
	ms := samples() // one of every known type, in type order
	var seeds []seed
	for _, m := range ms {
		typ := wire.Type(m.Append(nil)[2])
		if typ >= wire.TypeRetransmitRequest {
			// Control messages travel alone, sequence 0 (DESIGN.md, "Control messages").
			seeds = append(seeds, seed{"control-" + typ.String(), wire.AppendControl(nil, 1, 0x5eed, 1, m), 40})
			continue
		}
		seeds = append(seeds, seed{"market-" + typ.String(), packet(live, m), 40})
	}
	seeds = append(seeds,
		seed{"market-mixed", packet(live, ms[:6]...), 80},
		seed{"heartbeat", packet(wire.Header{Flags: wire.FlagHeartbeat, Channel: 1, Session: 0x5eed, Seq: 1002}), 32},
		seed{"end-of-session", packet(wire.Header{Flags: wire.FlagEndOfSession, Channel: 1, Session: 0x5eed, Seq: 1002}), 32},
		seed{"retransmission", packet(wire.Header{Flags: wire.FlagRetransmission, Channel: 1, Session: 0x5eed, Seq: 990},
			wire.LevelUpdate{Instrument: 7, Price: 100, Qty: 1}, wire.LevelUpdate{Instrument: 7, Price: 101, Qty: 2, Side: wire.Ask, EndOfEvent: true}), 72},
		seed{"snapshot", packet(wire.Header{Flags: wire.FlagSnapshot, Channel: 1, Session: 0x5eed, Seq: 1000},
			wire.NewInstrumentDef(7, "BTCUSDT", "binance", -2, -8),
			wire.BookClear{Instrument: 7, ExchTime: 5},
			wire.LevelUpdate{Instrument: 7, Price: 6_500_000, Qty: 3, Side: wire.Bid},
			wire.LevelUpdate{Instrument: 7, Price: 6_500_100, Qty: 4, Side: wire.Ask, EndOfEvent: true},
			wire.SnapshotEnd{Channel: 1, Instruments: 1, LastSeq: 1000}), 100},
	)

	// A message of a type this version does not know, counted by the header.
	var pb wire.Builder
	pb.Reset(nil, wire.DefaultMaxPacket, wire.Header{Channel: 1, Session: 0x5eed, Seq: 1003})
	wire.Add(&pb, ms[1])
	pb.AddRaw([]byte{0x0a, 0, 0x7f, 0, 1, 2, 3, 4, 5, 6})
	seeds = append(seeds, seed{"unknown-type", pb.Finish(1_700_000_000_000_000_000), 60})

	full := make([]wire.Encoder, 29) // 29 × 40 + 32 = 1192 bytes
	for i := range full {
		full[i] = wire.LevelUpdate{Instrument: uint32(i % 3), Price: int64(6_500_000 + i), Qty: int64(i), ExchTime: uint64(i), Side: wire.Side(i % 2)}
	}
	seeds = append(seeds, seed{"full-1200", packet(live, full...), 600})
	return seeds
}

// seedFile is a corpus file in the "go test fuzz v1" format.
func seedFile(values ...any) []byte {
	s := "go test fuzz v1\n"
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			s += fmt.Sprintf("[]byte(%q)\n", v)
		case uint16:
			s += fmt.Sprintf("uint16(%d)\n", v)
		}
	}
	return []byte(s)
}

// TestSeedCorpus keeps testdata/fuzz in step with seedPackets; run with
// -update-seeds to rewrite it.
func TestSeedCorpus(t *testing.T) {
	files := map[string][]byte{}
	for _, s := range seedPackets() {
		if _, err := wire.Parse(s.data); err != nil {
			t.Fatalf("seed %s does not parse: %v", s.name, err)
		}
		files[filepath.Join("FuzzParse", s.name)] = seedFile(s.data)
		files[filepath.Join("FuzzSplit", s.name)] = seedFile(s.data, s.limit)
		if p, _ := wire.Parse(s.data); p.Count > 0 {
			it := p.Messages()
			it.Next()
			files[filepath.Join("FuzzDecodeControl", s.name)] = seedFile(it.Message().Bytes())
		}
	}
	for name, want := range files {
		path := filepath.Join("testdata", "fuzz", name)
		if *updateSeeds {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is missing or stale (%v): run go test ./wire -run TestSeedCorpus -update-seeds", path, err)
		}
	}
}
