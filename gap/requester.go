package gap

import "github.com/tickcast/tickcast/wire"

// Requester sends retransmit requests upstream: a [Client] over unicast UDP on
// a LAN, or a QUIC link client across a WAN. Request must not block for long:
// the arbiter's owner calls it.
type Requester interface {
	Request(r wire.RetransmitRequest) error
}
