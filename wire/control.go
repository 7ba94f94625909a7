package wire

import "encoding/binary"

// Control messages travel on unicast UDP or QUIC streams only, never on
// multicast. A request travels in a packet with the normal header, sequence 0
// and count 1 (see [AppendControl]).

// AppendControl appends a whole control packet holding the single message m:
// a header with sequence 0, count 1 and the given channel, session and send
// time, then the message.
func AppendControl[M interface{ Append([]byte) []byte }](b []byte, channel uint16, session uint64, sendTime int64, m M) []byte {
	b = Header{Channel: channel, Count: 1, Session: session, SendTime: sendTime}.Append(b)
	return m.Append(b)
}

// RetransmitRequest asks a retransmit server for Count messages from FirstSeq
// (type 0x40, 32 bytes): 4: u16 channel · 6: 2 reserved · 8: u32 count ·
// 12: 4 reserved · 16: u64 session · 24: u64 first sequence.
type RetransmitRequest struct {
	Channel  uint16
	Count    uint32
	Session  uint64
	FirstSeq uint64
}

// Len returns the encoded length.
func (RetransmitRequest) Len() int { return RetransmitRequestLen }

// Append appends the encoded message to b and returns the extended buffer.
func (r RetransmitRequest) Append(b []byte) []byte {
	b = appendMsgHeader(b, RetransmitRequestLen, TypeRetransmitRequest, 0)
	b = binary.LittleEndian.AppendUint16(b, r.Channel)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, r.Count)
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, r.Session)
	return binary.LittleEndian.AppendUint64(b, r.FirstSeq)
}

// DecodeRetransmitRequest decodes one RetransmitRequest from the start of b.
func DecodeRetransmitRequest(b []byte) (RetransmitRequest, error) {
	if err := check(b, TypeRetransmitRequest, RetransmitRequestLen); err != nil {
		return RetransmitRequest{}, err
	}
	return RetransmitRequest{
		Channel:  binary.LittleEndian.Uint16(b[4:]),
		Count:    binary.LittleEndian.Uint32(b[8:]),
		Session:  binary.LittleEndian.Uint64(b[16:]),
		FirstSeq: binary.LittleEndian.Uint64(b[24:]),
	}, nil
}

// RetransmitReject refuses a RetransmitRequest (type 0x41, 32 bytes): the
// request's fields, the reason in byte 6 and a u32 retry-after in milliseconds
// in bytes 12–15 (0 = do not retry).
type RetransmitReject struct {
	Channel      uint16
	Reason       RejectReason
	Count        uint32
	RetryAfterMs uint32
	Session      uint64
	FirstSeq     uint64
}

// Len returns the encoded length.
func (RetransmitReject) Len() int { return RetransmitRejectLen }

// Append appends the encoded message to b and returns the extended buffer.
func (r RetransmitReject) Append(b []byte) []byte {
	b = appendMsgHeader(b, RetransmitRejectLen, TypeRetransmitReject, 0)
	b = binary.LittleEndian.AppendUint16(b, r.Channel)
	b = append(b, byte(r.Reason), 0)
	b = binary.LittleEndian.AppendUint32(b, r.Count)
	b = binary.LittleEndian.AppendUint32(b, r.RetryAfterMs)
	b = binary.LittleEndian.AppendUint64(b, r.Session)
	return binary.LittleEndian.AppendUint64(b, r.FirstSeq)
}

// DecodeRetransmitReject decodes one RetransmitReject from the start of b.
func DecodeRetransmitReject(b []byte) (RetransmitReject, error) {
	if err := check(b, TypeRetransmitReject, RetransmitRejectLen); err != nil {
		return RetransmitReject{}, err
	}
	return RetransmitReject{
		Channel:      binary.LittleEndian.Uint16(b[4:]),
		Reason:       RejectReason(b[6]),
		Count:        binary.LittleEndian.Uint32(b[8:]),
		RetryAfterMs: binary.LittleEndian.Uint32(b[12:]),
		Session:      binary.LittleEndian.Uint64(b[16:]),
		FirstSeq:     binary.LittleEndian.Uint64(b[24:]),
	}, nil
}

// SnapshotRequest asks for a snapshot of one instrument or all (type 0x42,
// 16 bytes): 4: u16 channel · 6: 2 reserved · 8: u32 instrument (0 = all) ·
// 12: 4 reserved.
type SnapshotRequest struct {
	Channel    uint16
	Instrument uint32 // 0 = all
}

// Len returns the encoded length.
func (SnapshotRequest) Len() int { return SnapshotRequestLen }

// Append appends the encoded message to b and returns the extended buffer.
func (r SnapshotRequest) Append(b []byte) []byte {
	b = appendMsgHeader(b, SnapshotRequestLen, TypeSnapshotRequest, 0)
	b = binary.LittleEndian.AppendUint16(b, r.Channel)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, r.Instrument)
	return append(b, 0, 0, 0, 0)
}

// DecodeSnapshotRequest decodes one SnapshotRequest from the start of b.
func DecodeSnapshotRequest(b []byte) (SnapshotRequest, error) {
	if err := check(b, TypeSnapshotRequest, SnapshotRequestLen); err != nil {
		return SnapshotRequest{}, err
	}
	return SnapshotRequest{
		Channel:    binary.LittleEndian.Uint16(b[4:]),
		Instrument: binary.LittleEndian.Uint32(b[8:]),
	}, nil
}

// SnapshotEnd closes a snapshot (type 0x43, 24 bytes): 4: u16 channel ·
// 6: 2 reserved · 8: u32 instruments sent · 12: 4 reserved · 16: u64 last
// sequence reflected. The subscriber applies live messages after LastSeq.
type SnapshotEnd struct {
	Channel     uint16
	Instruments uint32
	LastSeq     uint64
}

// Len returns the encoded length.
func (SnapshotEnd) Len() int { return SnapshotEndLen }

// Append appends the encoded message to b and returns the extended buffer.
func (e SnapshotEnd) Append(b []byte) []byte {
	b = appendMsgHeader(b, SnapshotEndLen, TypeSnapshotEnd, 0)
	b = binary.LittleEndian.AppendUint16(b, e.Channel)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, e.Instruments)
	b = append(b, 0, 0, 0, 0)
	return binary.LittleEndian.AppendUint64(b, e.LastSeq)
}

// DecodeSnapshotEnd decodes one SnapshotEnd from the start of b.
func DecodeSnapshotEnd(b []byte) (SnapshotEnd, error) {
	if err := check(b, TypeSnapshotEnd, SnapshotEndLen); err != nil {
		return SnapshotEnd{}, err
	}
	return SnapshotEnd{
		Channel:     binary.LittleEndian.Uint16(b[4:]),
		Instruments: binary.LittleEndian.Uint32(b[8:]),
		LastSeq:     binary.LittleEndian.Uint64(b[16:]),
	}, nil
}

// SubscribeMode says where a QUIC link client wants its stream to start.
type SubscribeMode uint8

// Subscribe modes. Only add at the end.
const (
	SubscribeLive     SubscribeMode = 1 // live packets from now on
	SubscribeSnapshot SubscribeMode = 2 // a snapshot first, then live
	SubscribeFromSeq  SubscribeMode = 3 // retransmit from FromSeq (same session), then live
)

// Subscribe is tickcast's extension of DESIGN.md for the QUIC link: the first
// message a client sends on its control stream, one per channel (type 0x44,
// 32 bytes): 4: u16 channel · 6: u8 mode · 7: reserved · 8: u64 session ·
// 16: u64 from sequence · 24: 8 reserved. Session and FromSeq matter only for
// [SubscribeFromSeq].
type Subscribe struct {
	Channel uint16
	Mode    SubscribeMode
	Session uint64
	FromSeq uint64
}

// Len returns the encoded length.
func (Subscribe) Len() int { return SubscribeLen }

// Append appends the encoded message to b and returns the extended buffer.
func (s Subscribe) Append(b []byte) []byte {
	b = appendMsgHeader(b, SubscribeLen, TypeSubscribe, 0)
	b = binary.LittleEndian.AppendUint16(b, s.Channel)
	b = append(b, byte(s.Mode), 0)
	b = binary.LittleEndian.AppendUint64(b, s.Session)
	b = binary.LittleEndian.AppendUint64(b, s.FromSeq)
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0)
}

// DecodeSubscribe decodes one Subscribe from the start of b.
func DecodeSubscribe(b []byte) (Subscribe, error) {
	if err := check(b, TypeSubscribe, SubscribeLen); err != nil {
		return Subscribe{}, err
	}
	return Subscribe{
		Channel: binary.LittleEndian.Uint16(b[4:]),
		Mode:    SubscribeMode(b[6]),
		Session: binary.LittleEndian.Uint64(b[8:]),
		FromSeq: binary.LittleEndian.Uint64(b[16:]),
	}, nil
}
