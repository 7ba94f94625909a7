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
// 12: u32 token · 16: u64 session · 24: u64 first sequence.
//
// Token is tickcast's anti-amplification extension of DESIGN.md ("Security
// and abuse"; bytes 12–15 were reserved and zero): the token the server gave
// the requester in a [RetransmitToken], echoed to prove that the requester
// receives at its address. 0 means no token: a server that validates
// requesters answers such a request with a RetransmitToken only, never with
// data. Over a QUIC link (whose handshake already validates the address)
// the token is ignored.
type RetransmitRequest struct {
	Channel  uint16
	Count    uint32
	Token    uint32 // 0 = no token
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
	b = binary.LittleEndian.AppendUint32(b, r.Token)
	b = binary.LittleEndian.AppendUint64(b, r.Session)
	return binary.LittleEndian.AppendUint64(b, r.FirstSeq)
}

// Decode decodes one RetransmitRequest message from the start of b into r, leaving r
// unchanged on error; it is [DecodeRetransmitRequest] without a copy of the result.
func (r *RetransmitRequest) Decode(b []byte) error {
	if err := check(b, TypeRetransmitRequest, RetransmitRequestLen); err != nil {
		return err
	}
	r.read(b)
	return nil
}

// DecodeRetransmitRequest decodes one RetransmitRequest message from the start of b.
func DecodeRetransmitRequest(b []byte) (r RetransmitRequest, err error) {
	err = r.Decode(b)
	return r, err
}

// read fills r from b, which holds at least RetransmitRequestLen bytes.
func (r *RetransmitRequest) read(b []byte) {
	b = b[:RetransmitRequestLen]
	r.Channel = binary.LittleEndian.Uint16(b[4:])
	r.Count = binary.LittleEndian.Uint32(b[8:])
	r.Token = binary.LittleEndian.Uint32(b[12:])
	r.Session = binary.LittleEndian.Uint64(b[16:])
	r.FirstSeq = binary.LittleEndian.Uint64(b[24:])
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

// Decode decodes one RetransmitReject message from the start of b into r, leaving r
// unchanged on error; it is [DecodeRetransmitReject] without a copy of the result.
func (r *RetransmitReject) Decode(b []byte) error {
	if err := check(b, TypeRetransmitReject, RetransmitRejectLen); err != nil {
		return err
	}
	r.read(b)
	return nil
}

// DecodeRetransmitReject decodes one RetransmitReject message from the start of b.
func DecodeRetransmitReject(b []byte) (r RetransmitReject, err error) {
	err = r.Decode(b)
	return r, err
}

// read fills r from b, which holds at least RetransmitRejectLen bytes.
func (r *RetransmitReject) read(b []byte) {
	b = b[:RetransmitRejectLen]
	r.Channel = binary.LittleEndian.Uint16(b[4:])
	r.Reason = RejectReason(b[6])
	r.Count = binary.LittleEndian.Uint32(b[8:])
	r.RetryAfterMs = binary.LittleEndian.Uint32(b[12:])
	r.Session = binary.LittleEndian.Uint64(b[16:])
	r.FirstSeq = binary.LittleEndian.Uint64(b[24:])
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

// Decode decodes one SnapshotRequest message from the start of b into r, leaving r
// unchanged on error; it is [DecodeSnapshotRequest] without a copy of the result.
func (r *SnapshotRequest) Decode(b []byte) error {
	if err := check(b, TypeSnapshotRequest, SnapshotRequestLen); err != nil {
		return err
	}
	r.read(b)
	return nil
}

// DecodeSnapshotRequest decodes one SnapshotRequest message from the start of b.
func DecodeSnapshotRequest(b []byte) (r SnapshotRequest, err error) {
	err = r.Decode(b)
	return r, err
}

// read fills r from b, which holds at least SnapshotRequestLen bytes.
func (r *SnapshotRequest) read(b []byte) {
	b = b[:SnapshotRequestLen]
	r.Channel = binary.LittleEndian.Uint16(b[4:])
	r.Instrument = binary.LittleEndian.Uint32(b[8:])
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

// Decode decodes one SnapshotEnd message from the start of b into e, leaving e
// unchanged on error; it is [DecodeSnapshotEnd] without a copy of the result.
func (e *SnapshotEnd) Decode(b []byte) error {
	if err := check(b, TypeSnapshotEnd, SnapshotEndLen); err != nil {
		return err
	}
	e.read(b)
	return nil
}

// DecodeSnapshotEnd decodes one SnapshotEnd message from the start of b.
func DecodeSnapshotEnd(b []byte) (e SnapshotEnd, err error) {
	err = e.Decode(b)
	return e, err
}

// read fills e from b, which holds at least SnapshotEndLen bytes.
func (e *SnapshotEnd) read(b []byte) {
	b = b[:SnapshotEndLen]
	e.Channel = binary.LittleEndian.Uint16(b[4:])
	e.Instruments = binary.LittleEndian.Uint32(b[8:])
	e.LastSeq = binary.LittleEndian.Uint64(b[16:])
}

// SubscribeMode says where a QUIC link client wants its stream to start.
type SubscribeMode uint8

// Subscribe modes. Only add at the end.
const (
	SubscribeLive     SubscribeMode = 1 // live packets from now on
	SubscribeSnapshot SubscribeMode = 2 // a snapshot first, then live
	SubscribeFromSeq  SubscribeMode = 3 // retransmit from FromSeq (same session), then live
	// SubscribeRecovery: no live packets, only answers to NACKs and
	// snapshot requests (a subscriber that gets the live feed by multicast).
	SubscribeRecovery SubscribeMode = 4
)

// Subscribe is tickcast's extension of DESIGN.md for the QUIC link: the first
// message a client sends on its control stream, one per channel (type 0x44,
// 32 bytes): 4: u16 channel · 6: u8 mode (1 live, 2 snapshot then live, 3
// from a sequence, 4 recovery only) · 7: reserved · 8: u64 session ·
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

// Decode decodes one Subscribe message from the start of b into s, leaving s
// unchanged on error; it is [DecodeSubscribe] without a copy of the result.
func (s *Subscribe) Decode(b []byte) error {
	if err := check(b, TypeSubscribe, SubscribeLen); err != nil {
		return err
	}
	s.read(b)
	return nil
}

// DecodeSubscribe decodes one Subscribe message from the start of b.
func DecodeSubscribe(b []byte) (s Subscribe, err error) {
	err = s.Decode(b)
	return s, err
}

// read fills s from b, which holds at least SubscribeLen bytes.
func (s *Subscribe) read(b []byte) {
	b = b[:SubscribeLen]
	s.Channel = binary.LittleEndian.Uint16(b[4:])
	s.Mode = SubscribeMode(b[6])
	s.Session = binary.LittleEndian.Uint64(b[8:])
	s.FromSeq = binary.LittleEndian.Uint64(b[16:])
}

// RetransmitToken is tickcast's anti-amplification extension of DESIGN.md
// ("Security and abuse", as QUIC's address validation, RFC 9000 §8.1): a
// retransmit server's answer to a RetransmitRequest whose Token is not the
// requester's (type 0x45, 16 bytes): 4: u16 channel · 6: 2 reserved ·
// 8: u32 token · 12: 4 reserved. Channel echoes the request's. The requester
// puts Token in its later requests (RetransmitRequest bytes 12–15); until it
// does, the server answers it with nothing but this message, which is
// smaller than the request that caused it. Token is never 0.
type RetransmitToken struct {
	Channel uint16
	Token   uint32
}

// Len returns the encoded length.
func (RetransmitToken) Len() int { return RetransmitTokenLen }

// Append appends the encoded message to b and returns the extended buffer.
func (t RetransmitToken) Append(b []byte) []byte {
	b = appendMsgHeader(b, RetransmitTokenLen, TypeRetransmitToken, 0)
	b = binary.LittleEndian.AppendUint16(b, t.Channel)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, t.Token)
	return append(b, 0, 0, 0, 0)
}

// Decode decodes one RetransmitToken message from the start of b into t, leaving t
// unchanged on error; it is [DecodeRetransmitToken] without a copy of the result.
func (t *RetransmitToken) Decode(b []byte) error {
	if err := check(b, TypeRetransmitToken, RetransmitTokenLen); err != nil {
		return err
	}
	t.read(b)
	return nil
}

// DecodeRetransmitToken decodes one RetransmitToken message from the start of b.
func DecodeRetransmitToken(b []byte) (t RetransmitToken, err error) {
	err = t.Decode(b)
	return t, err
}

// read fills t from b, which holds at least RetransmitTokenLen bytes.
func (t *RetransmitToken) read(b []byte) {
	b = b[:RetransmitTokenLen]
	t.Channel = binary.LittleEndian.Uint16(b[4:])
	t.Token = binary.LittleEndian.Uint32(b[8:])
}
