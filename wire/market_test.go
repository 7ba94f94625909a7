package wire_test

import (
	"testing"

	"github.com/tickcast/tickcast/wire"
)

// The expected bytes below are written from DESIGN.md's "Market messages"
// table, not from the encoders. Every field holds distinct bytes (the low
// nibble counts up within a field, the high nibble names the field), so a
// swapped or shifted offset shows up as a mismatch.
func TestMarketGolden(t *testing.T) {
	checkGolden(t, []golden{
		{
			name: "InstrumentDef",
			msg:  wire.NewInstrumentDef(0x14131211, "ETH-USDT-PERP", "binance-fut", -8, 3),
			want: unhex(t,
				"2800 01 00", // len 40, type 0x01, flags 0
				"11121314",   // 4: instrument
				"f8",         // 8: price exponent -8
				"03",         // 9: qty exponent 3
				"0000",       // 10: reserved
				// 12: symbol "ETH-USDT-PERP", NUL-padded to 16
				"4554482d555344542d50455250 000000",
				// 28: venue "binance-fut", NUL-padded to 12
				"62696e616e63652d667574 00",
			),
		},
		{
			name: "LevelUpdate",
			msg: wire.LevelUpdate{
				Instrument: 0x14131211,
				Price:      0x2827262524232221,
				Qty:        0x3837363534333231,
				ExchTime:   0x4847464544434241,
				Side:       wire.Ask,
				EndOfEvent: true,
			},
			want: unhex(t,
				"2800 02 01",       // len 40, type 0x02, flags 0x01 end of event
				"11121314",         // 4: instrument
				"2122232425262728", // 8: price
				"3132333435363738", // 16: qty
				"4142434445464748", // 24: exchange time ns
				"01",               // 32: side ask
				"00000000000000",   // 33: reserved
			),
		},
		{
			name: "LevelUpdate", // bid, negative price, level removal, mid-event
			msg: wire.LevelUpdate{
				Instrument: 0x04030201,
				Price:      -2,
				Qty:        0,
				ExchTime:   0x4847464544434241,
				Side:       wire.Bid,
			},
			want: unhex(t,
				"2800 02 00",       // len 40, type 0x02, no flags
				"01020304",         // 4: instrument
				"feffffffffffffff", // 8: price -2
				"0000000000000000", // 16: qty 0 removes the level
				"4142434445464748", // 24: exchange time ns
				"00",               // 32: side bid
				"00000000000000",   // 33: reserved
			),
		},
		{
			name: "Trade",
			msg: wire.Trade{
				Instrument: 0x14131211,
				Price:      0x2827262524232221,
				Qty:        0x3837363534333231,
				ExchTime:   0x4847464544434241,
				TradeID:    0x5857565554535251,
				Aggressor:  wire.AggressorSell,
			},
			want: unhex(t,
				"3000 03 00",       // len 48, type 0x03, flags 0
				"11121314",         // 4: instrument
				"2122232425262728", // 8: price
				"3132333435363738", // 16: qty
				"4142434445464748", // 24: exchange time ns
				"5152535455565758", // 32: trade id
				"02",               // 40: aggressor sell
				"00000000000000",   // 41: reserved
			),
		},
		{
			name: "BookClear",
			msg:  wire.BookClear{Instrument: 0x14131211, ExchTime: 0x4847464544434241},
			want: unhex(t,
				"1000 04 00",       // len 16, type 0x04, flags 0
				"11121314",         // 4: instrument
				"4142434445464748", // 8: exchange time ns
			),
		},
		{
			name: "InstrumentStatus",
			msg:  wire.InstrumentStatus{Instrument: 0x14131211, Status: wire.StatusHalted},
			want: unhex(t,
				"1000 05 00",     // len 16, type 0x05, flags 0
				"11121314",       // 4: instrument
				"04",             // 8: status halted
				"00000000000000", // 9: reserved
			),
		},
		{
			name: "BookChecksum",
			msg: wire.BookChecksum{
				Instrument: 0x14131211,
				CRC:        0x24232221,
				Bids:       0x3231,
				Asks:       0x3433,
				ExchTime:   0x4847464544434241,
			},
			want: unhex(t,
				"1800 06 00",       // len 24, type 0x06, flags 0
				"11121314",         // 4: instrument
				"21222324",         // 8: CRC-32C
				"3132",             // 12: bid levels
				"3334",             // 14: ask levels
				"4142434445464748", // 16: exchange time ns
			),
		},
	})
}

func TestInstrumentDefStrings(t *testing.T) {
	d := wire.NewInstrumentDef(1, "BTCUSDT", "binance", -2, -6)
	if d.SymbolString() != "BTCUSDT" || d.VenueString() != "binance" {
		t.Fatalf("SymbolString %q VenueString %q", d.SymbolString(), d.VenueString())
	}
	// Full-width fields have no NUL; longer strings are cut to the field.
	d = wire.NewInstrumentDef(1, "ABCDEFGHIJKLMNOPQRS", "VENUE6789012XYZ", 0, 0)
	if d.SymbolString() != "ABCDEFGHIJKLMNOP" || d.VenueString() != "VENUE6789012" {
		t.Fatalf("SymbolString %q VenueString %q", d.SymbolString(), d.VenueString())
	}
}
