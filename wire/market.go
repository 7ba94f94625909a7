package wire

import (
	"bytes"
	"encoding/binary"
)

// appendMsgHeader appends a message header: length, type and flags.
func appendMsgHeader(b []byte, l int, t Type, flags uint8) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(l))
	return append(b, byte(t), flags)
}

// check validates that b starts with one message of type t whose length is
// at least n: ErrTruncated when b is shorter than a message header or than
// the length the message states, ErrType for another type and ErrMsgLength
// when the stated length is below n.
func check(b []byte, t Type, n int) error {
	if len(b) < MsgHeaderLen {
		return ErrTruncated
	}
	if Type(b[2]) != t {
		return ErrType
	}
	l := int(binary.LittleEndian.Uint16(b))
	if l < n {
		return ErrMsgLength
	}
	if l > len(b) {
		return ErrTruncated
	}
	return nil
}

var zero7 [7]byte

// InstrumentDef defines an instrument (type 0x01, 40 bytes):
// 4: u32 instrument · 8: i8 price exponent · 9: i8 qty exponent · 10: 2 reserved
// · 12: [16] symbol · 28: [12] venue (ASCII, NUL-padded).
type InstrumentDef struct {
	Instrument uint32
	PriceExp   int8 // price = mantissa × 10^PriceExp
	QtyExp     int8 // qty = mantissa × 10^QtyExp
	Symbol     [16]byte
	Venue      [12]byte
}

// NewInstrumentDef returns a definition with symbol and venue copied in
// (truncated to 16 and 12 bytes).
func NewInstrumentDef(id uint32, symbol, venue string, priceExp, qtyExp int8) InstrumentDef {
	d := InstrumentDef{Instrument: id, PriceExp: priceExp, QtyExp: qtyExp}
	copy(d.Symbol[:], symbol)
	copy(d.Venue[:], venue)
	return d
}

// SymbolString returns the symbol without its NUL padding.
func (d *InstrumentDef) SymbolString() string { return nulTrim(d.Symbol[:]) }

// VenueString returns the venue without its NUL padding.
func (d *InstrumentDef) VenueString() string { return nulTrim(d.Venue[:]) }

func nulTrim(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Len returns the encoded length.
func (InstrumentDef) Len() int { return InstrumentDefLen }

// Append appends the encoded message to b and returns the extended buffer.
func (d InstrumentDef) Append(b []byte) []byte {
	b = appendMsgHeader(b, InstrumentDefLen, TypeInstrumentDef, 0)
	b = binary.LittleEndian.AppendUint32(b, d.Instrument)
	b = append(b, byte(d.PriceExp), byte(d.QtyExp), 0, 0)
	b = append(b, d.Symbol[:]...)
	return append(b, d.Venue[:]...)
}

// Decode decodes one InstrumentDef message from the start of b into d, leaving d
// unchanged on error; it is [DecodeInstrumentDef] without a copy of the result.
func (d *InstrumentDef) Decode(b []byte) error {
	if err := check(b, TypeInstrumentDef, InstrumentDefLen); err != nil {
		return err
	}
	d.read(b)
	return nil
}

// DecodeInstrumentDef decodes one InstrumentDef message from the start of b.
func DecodeInstrumentDef(b []byte) (d InstrumentDef, err error) {
	err = d.Decode(b)
	return d, err
}

// read fills d from b, which holds at least InstrumentDefLen bytes.
func (d *InstrumentDef) read(b []byte) {
	b = b[:InstrumentDefLen]
	d.Instrument = binary.LittleEndian.Uint32(b[4:])
	d.PriceExp = int8(b[8])
	d.QtyExp = int8(b[9])
	copy(d.Symbol[:], b[12:28])
	copy(d.Venue[:], b[28:40])
}

// LevelFlagEndOfEvent is the LevelUpdate flag that marks the end of an event:
// the book is consistent after this message.
const LevelFlagEndOfEvent uint8 = 0x01

// LevelUpdate sets one price level (type 0x02, 40 bytes):
// 4: u32 instrument · 8: i64 price · 16: i64 qty (0 removes the level) ·
// 24: u64 exchange time ns · 32: u8 side · 33: 7 reserved.
type LevelUpdate struct {
	Instrument uint32
	Price      int64
	Qty        int64 // 0 removes the level
	ExchTime   uint64
	Side       Side
	EndOfEvent bool // flag 0x01: the book is consistent after this message
}

// Len returns the encoded length.
func (LevelUpdate) Len() int { return LevelUpdateLen }

// Append appends the encoded message to b and returns the extended buffer.
func (u LevelUpdate) Append(b []byte) []byte {
	var f uint8
	if u.EndOfEvent {
		f = LevelFlagEndOfEvent
	}
	b = appendMsgHeader(b, LevelUpdateLen, TypeLevelUpdate, f)
	b = binary.LittleEndian.AppendUint32(b, u.Instrument)
	b = binary.LittleEndian.AppendUint64(b, uint64(u.Price))
	b = binary.LittleEndian.AppendUint64(b, uint64(u.Qty))
	b = binary.LittleEndian.AppendUint64(b, u.ExchTime)
	b = append(b, byte(u.Side))
	return append(b, zero7[:]...)
}

// Decode decodes one LevelUpdate message from the start of b into u, leaving u
// unchanged on error; it is [DecodeLevelUpdate] without a copy of the result.
func (u *LevelUpdate) Decode(b []byte) error {
	if err := check(b, TypeLevelUpdate, LevelUpdateLen); err != nil {
		return err
	}
	u.read(b)
	return nil
}

// DecodeLevelUpdate decodes one LevelUpdate message from the start of b.
func DecodeLevelUpdate(b []byte) (u LevelUpdate, err error) {
	err = u.Decode(b)
	return u, err
}

// read fills u from b, which holds at least LevelUpdateLen bytes.
func (u *LevelUpdate) read(b []byte) {
	b = b[:LevelUpdateLen]
	u.Instrument = binary.LittleEndian.Uint32(b[4:])
	u.Price = int64(binary.LittleEndian.Uint64(b[8:]))
	u.Qty = int64(binary.LittleEndian.Uint64(b[16:]))
	u.ExchTime = binary.LittleEndian.Uint64(b[24:])
	u.Side = Side(b[32])
	u.EndOfEvent = b[3]&LevelFlagEndOfEvent != 0
}

// Trade is one trade (type 0x03, 48 bytes): 4: u32 instrument · 8: i64 price ·
// 16: i64 qty · 24: u64 exchange time ns · 32: u64 trade id · 40: u8 aggressor ·
// 41: 7 reserved.
type Trade struct {
	Instrument uint32
	Price      int64
	Qty        int64
	ExchTime   uint64
	TradeID    uint64
	Aggressor  Aggressor
}

// Len returns the encoded length.
func (Trade) Len() int { return TradeLen }

// Append appends the encoded message to b and returns the extended buffer.
func (t Trade) Append(b []byte) []byte {
	b = appendMsgHeader(b, TradeLen, TypeTrade, 0)
	b = binary.LittleEndian.AppendUint32(b, t.Instrument)
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Price))
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Qty))
	b = binary.LittleEndian.AppendUint64(b, t.ExchTime)
	b = binary.LittleEndian.AppendUint64(b, t.TradeID)
	b = append(b, byte(t.Aggressor))
	return append(b, zero7[:]...)
}

// Decode decodes one Trade message from the start of b into t, leaving t
// unchanged on error; it is [DecodeTrade] without a copy of the result.
func (t *Trade) Decode(b []byte) error {
	if err := check(b, TypeTrade, TradeLen); err != nil {
		return err
	}
	t.read(b)
	return nil
}

// DecodeTrade decodes one Trade message from the start of b.
func DecodeTrade(b []byte) (t Trade, err error) {
	err = t.Decode(b)
	return t, err
}

// read fills t from b, which holds at least TradeLen bytes.
func (t *Trade) read(b []byte) {
	b = b[:TradeLen]
	t.Instrument = binary.LittleEndian.Uint32(b[4:])
	t.Price = int64(binary.LittleEndian.Uint64(b[8:]))
	t.Qty = int64(binary.LittleEndian.Uint64(b[16:]))
	t.ExchTime = binary.LittleEndian.Uint64(b[24:])
	t.TradeID = binary.LittleEndian.Uint64(b[32:])
	t.Aggressor = Aggressor(b[40])
}

// BookClear tells that the source re-synced: drop the book, levels follow
// (type 0x04, 16 bytes): 4: u32 instrument · 8: u64 exchange time ns.
type BookClear struct {
	Instrument uint32
	ExchTime   uint64
}

// Len returns the encoded length.
func (BookClear) Len() int { return BookClearLen }

// Append appends the encoded message to b and returns the extended buffer.
func (c BookClear) Append(b []byte) []byte {
	b = appendMsgHeader(b, BookClearLen, TypeBookClear, 0)
	b = binary.LittleEndian.AppendUint32(b, c.Instrument)
	return binary.LittleEndian.AppendUint64(b, c.ExchTime)
}

// Decode decodes one BookClear message from the start of b into c, leaving c
// unchanged on error; it is [DecodeBookClear] without a copy of the result.
func (c *BookClear) Decode(b []byte) error {
	if err := check(b, TypeBookClear, BookClearLen); err != nil {
		return err
	}
	c.read(b)
	return nil
}

// DecodeBookClear decodes one BookClear message from the start of b.
func DecodeBookClear(b []byte) (c BookClear, err error) {
	err = c.Decode(b)
	return c, err
}

// read fills c from b, which holds at least BookClearLen bytes.
func (c *BookClear) read(b []byte) {
	b = b[:BookClearLen]
	c.Instrument = binary.LittleEndian.Uint32(b[4:])
	c.ExchTime = binary.LittleEndian.Uint64(b[8:])
}

// InstrumentStatus reports an instrument's state (type 0x05, 16 bytes):
// 4: u32 instrument · 8: u8 status · 9: 7 reserved.
type InstrumentStatus struct {
	Instrument uint32
	Status     Status
}

// Len returns the encoded length.
func (InstrumentStatus) Len() int { return InstrumentStatusLen }

// Append appends the encoded message to b and returns the extended buffer.
func (s InstrumentStatus) Append(b []byte) []byte {
	b = appendMsgHeader(b, InstrumentStatusLen, TypeInstrumentStatus, 0)
	b = binary.LittleEndian.AppendUint32(b, s.Instrument)
	b = append(b, byte(s.Status))
	return append(b, zero7[:]...)
}

// Decode decodes one InstrumentStatus message from the start of b into s, leaving s
// unchanged on error; it is [DecodeInstrumentStatus] without a copy of the result.
func (s *InstrumentStatus) Decode(b []byte) error {
	if err := check(b, TypeInstrumentStatus, InstrumentStatusLen); err != nil {
		return err
	}
	s.read(b)
	return nil
}

// DecodeInstrumentStatus decodes one InstrumentStatus message from the start of b.
func DecodeInstrumentStatus(b []byte) (s InstrumentStatus, err error) {
	err = s.Decode(b)
	return s, err
}

// read fills s from b, which holds at least InstrumentStatusLen bytes.
func (s *InstrumentStatus) read(b []byte) {
	b = b[:InstrumentStatusLen]
	s.Instrument = binary.LittleEndian.Uint32(b[4:])
	s.Status = Status(b[8])
}

// BookChecksum carries the publisher's book checksum (type 0x06, 24 bytes):
// 4: u32 instrument · 8: u32 CRC-32C of the whole book · 12: u16 bid levels ·
// 14: u16 ask levels · 16: u64 exchange time ns. The CRC covers bids best to
// worst, then asks best to worst, each level as i64 price then i64 qty,
// little-endian (see package book).
type BookChecksum struct {
	Instrument uint32
	CRC        uint32
	Bids       uint16
	Asks       uint16
	ExchTime   uint64
}

// Len returns the encoded length.
func (BookChecksum) Len() int { return BookChecksumLen }

// Append appends the encoded message to b and returns the extended buffer.
func (c BookChecksum) Append(b []byte) []byte {
	b = appendMsgHeader(b, BookChecksumLen, TypeBookChecksum, 0)
	b = binary.LittleEndian.AppendUint32(b, c.Instrument)
	b = binary.LittleEndian.AppendUint32(b, c.CRC)
	b = binary.LittleEndian.AppendUint16(b, c.Bids)
	b = binary.LittleEndian.AppendUint16(b, c.Asks)
	return binary.LittleEndian.AppendUint64(b, c.ExchTime)
}

// Decode decodes one BookChecksum message from the start of b into c, leaving c
// unchanged on error; it is [DecodeBookChecksum] without a copy of the result.
func (c *BookChecksum) Decode(b []byte) error {
	if err := check(b, TypeBookChecksum, BookChecksumLen); err != nil {
		return err
	}
	c.read(b)
	return nil
}

// DecodeBookChecksum decodes one BookChecksum message from the start of b.
func DecodeBookChecksum(b []byte) (c BookChecksum, err error) {
	err = c.Decode(b)
	return c, err
}

// read fills c from b, which holds at least BookChecksumLen bytes.
func (c *BookChecksum) read(b []byte) {
	b = b[:BookChecksumLen]
	c.Instrument = binary.LittleEndian.Uint32(b[4:])
	c.CRC = binary.LittleEndian.Uint32(b[8:])
	c.Bids = binary.LittleEndian.Uint16(b[12:])
	c.Asks = binary.LittleEndian.Uint16(b[14:])
	c.ExchTime = binary.LittleEndian.Uint64(b[16:])
}
