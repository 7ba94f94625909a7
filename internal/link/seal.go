package link

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
)

// The data path (doc.go): packets travel as sealed UDP datagrams on the
// link's own 5-tuple, outside QUIC. Each datagram is
//
//	type u8 | counter u64 LE | AES-128-GCM(payload) | tag [16]
//
// The type byte has its two high bits clear, so quic-go's transport, which
// shares the socket, tells these apart from QUIC packets (RFC 9000 §17: every
// QUIC packet has the fixed bit 0x40 set). The nonce is a 4-byte salt and the
// counter; type and counter are the associated data. Keys and salts come
// from the TLS 1.3 exporter of the link's own handshake (RFC 8446 §7.5), one
// set per direction, so only the two authenticated ends can seal or open a
// datagram of the link.

// Datagram types of the data path.
const (
	typeData    byte = 0x01 // server to client: one wire packet
	typeReport  byte = 0x02 // client to server: a receiver report
	typeRequest byte = 0x03 // client to server: a control packet of RetransmitRequests
)

// Sizes of the sealed framing.
const (
	sealHeader = 1 + 8
	sealTag    = 16
	// SealOverhead is what sealing adds to a packet on the data path.
	SealOverhead = sealHeader + sealTag
	// MaxDataPacket is the largest wire packet sent on the data path in one
	// datagram (larger ones are split at message boundaries): with the
	// sealing and the IPv6 and UDP headers it fits a 1500-byte MTU.
	MaxDataPacket = 1500 - 40 - 8 - SealOverhead
)

// exporterLabel names the link's data keys in the TLS exporter.
const exporterLabel = "EXPORTER-tickcast-data"

// errUnsealed: a datagram that is not a sealed packet of the expected type
// under the link's keys (forged, corrupted, or from another link).
var errUnsealed = errors.New("link: datagram failed authentication")

// sealer seals or opens datagrams of one direction of one link. It is not
// safe for concurrent use: each goroutine (or lock) has its own, all from
// the same keyMaterial.
type sealer struct {
	aead  cipher.AEAD
	salt  [4]byte
	nonce [12]byte // scratch, here so it does not escape per call
}

// keyMaterial is one direction's key and salt.
type keyMaterial struct {
	key  [16]byte
	salt [4]byte
}

// dataKeys are a link's two directions.
type dataKeys struct{ down, up keyMaterial }

// deriveKeys derives the data keys of a link from its TLS 1.3 session. Both
// ends compute the same keys.
func deriveKeys(cs tls.ConnectionState) (dataKeys, error) {
	km, err := cs.ExportKeyingMaterial(exporterLabel, nil, 2*(16+4))
	if err != nil {
		return dataKeys{}, fmt.Errorf("link: data keys: %w", err)
	}
	var k dataKeys
	copy(k.down.key[:], km[0:16])
	copy(k.up.key[:], km[16:32])
	copy(k.down.salt[:], km[32:36])
	copy(k.up.salt[:], km[36:40])
	return k, nil
}

// sealer returns a new sealer for this direction.
func (k keyMaterial) sealer() *sealer {
	block, err := aes.NewCipher(k.key[:])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err) // AES has GCM's block size
	}
	return &sealer{aead: aead, salt: k.salt}
}

// seal appends the sealed datagram of payload to dst[:0] and returns it.
// A counter must never repeat under one key.
func (s *sealer) seal(dst []byte, typ byte, counter uint64, payload []byte) []byte {
	copy(s.nonce[:4], s.salt[:])
	binary.LittleEndian.PutUint64(s.nonce[4:], counter)
	dst = append(dst[:0], typ)
	dst = binary.LittleEndian.AppendUint64(dst, counter)
	return s.aead.Seal(dst, s.nonce[:], payload, dst[:sealHeader])
}

// open authenticates and decrypts b, a datagram of type typ, in place: the
// payload returned shares b's storage.
func (s *sealer) open(b []byte, typ byte) (counter uint64, payload []byte, err error) {
	if len(b) < SealOverhead || b[0] != typ {
		return 0, nil, errUnsealed
	}
	counter = binary.LittleEndian.Uint64(b[1:sealHeader])
	copy(s.nonce[:4], s.salt[:])
	binary.LittleEndian.PutUint64(s.nonce[4:], counter)
	payload, err = s.aead.Open(b[sealHeader:sealHeader], s.nonce[:], b[sealHeader:], b[:sealHeader])
	if err != nil {
		return 0, nil, errUnsealed
	}
	return counter, payload, nil
}

// isData reports whether a datagram read from a link's socket belongs to the
// data path rather than to QUIC.
func isData(b []byte) bool { return len(b) > 0 && b[0]&0xc0 == 0 }

// report is a receiver report (client to server, about every
// reportInterval): how many data datagrams the client has taken in since
// the link started (authenticated and queued; what its own full queue
// refused is not counted). The server compares it with what it sent to
// measure the client's loss.
type report struct {
	received uint64
}

const reportSize = 8

func (r report) append(b []byte) []byte { return binary.LittleEndian.AppendUint64(b, r.received) }

func parseReport(b []byte) (report, bool) {
	if len(b) != reportSize {
		return report{}, false
	}
	return report{received: binary.LittleEndian.Uint64(b)}, true
}

// replayWindow refuses a datagram counter seen before or too old (the last
// 64 are remembered, as IPsec's anti-replay window): an attacker on the path
// cannot replay a client's NACKs to make the server send again.
type replayWindow struct {
	top  uint64 // highest counter accepted
	seen uint64 // bit i: top-i was accepted
}

// accept reports whether counter is new, and records it.
func (w *replayWindow) accept(counter uint64) bool {
	switch {
	case counter == 0:
		return false
	case counter > w.top:
		if shift := counter - w.top; shift < 64 {
			w.seen = w.seen<<shift | 1
		} else {
			w.seen = 1
		}
		w.top = counter
		return true
	case w.top-counter >= 64:
		return false
	}
	bit := uint64(1) << (w.top - counter)
	if w.seen&bit != 0 {
		return false
	}
	w.seen |= bit
	return true
}
