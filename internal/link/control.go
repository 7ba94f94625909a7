package link

import (
	"errors"
	"fmt"
	"io"

	"github.com/tickcast/tickcast/wire"
)

// errUnexpectedControl reports a known message type that has no business on
// the control stream (market data, a reject, a snapshot end).
var errUnexpectedControl = errors.New("link: unexpected message on the control stream")

// protocolError marks a client's protocol violation: the link is closed with
// codeProtocol and the reason.
type protocolError struct{ err error }

func (e protocolError) Error() string { return e.err.Error() }
func (e protocolError) Unwrap() error { return e.err }

// controlHandler receives the requests a client sends up its control stream.
// An error from subscribe, retransmit or snapshot ends the link (the peer
// broke the protocol or the connection is gone); malformed input is only
// counted.
type controlHandler interface {
	subscribe(s wire.Subscribe) error
	retransmit(r wire.RetransmitRequest) error
	snapshot(r wire.SnapshotRequest) error
	malformed(err error)
}

// readControl reads length-prefixed control packets from r and dispatches them
// to h until the stream ends (nil at a clean end), its framing breaks or h
// fails.
func readControl(r io.Reader, h controlHandler) error {
	fr := newFrameReader(r)
	for {
		pkt, err := fr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := handleControl(pkt, h); err != nil {
			return err
		}
	}
}

// handleControl dispatches every message of one control packet. A packet
// that does not parse, or a message that does not belong on the control
// stream, is counted malformed and skipped; unknown types are skipped
// silently (forward compatibility).
func handleControl(pkt []byte, h controlHandler) error {
	p, err := wire.Parse(pkt)
	if err != nil {
		h.malformed(err)
		return nil
	}
	for it := p.Messages(); it.Next(); {
		m := it.Message()
		switch m.Type() {
		case wire.TypeSubscribe:
			s, _ := wire.DecodeSubscribe(m.Bytes())
			if s.Mode < wire.SubscribeLive || s.Mode > wire.SubscribeRecovery {
				return protocolError{fmt.Errorf("subscribe channel %d: unknown mode %d", s.Channel, s.Mode)}
			}
			err = h.subscribe(s)
		case wire.TypeRetransmitRequest:
			r, _ := wire.DecodeRetransmitRequest(m.Bytes())
			err = h.retransmit(r)
		case wire.TypeSnapshotRequest:
			r, _ := wire.DecodeSnapshotRequest(m.Bytes())
			err = h.snapshot(r)
		default:
			if _, known := m.Type().MinLen(); known {
				h.malformed(fmt.Errorf("%w: %s", errUnexpectedControl, m.Type()))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
