package link

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/tickcast/tickcast/wire"
)

// The server's end of the data path (seal.go): live packets and
// retransmissions leave as sealed datagrams to the client's address, from
// the link's own socket. Publish enqueues live packets, the client's sender
// goroutine sends them; answer workers send retransmissions directly.

// dataSender seals and sends one client's datagrams. Its counter numbers
// every datagram sealed for the client (the nonce; the loss measure).
type dataSender struct {
	s   *Server
	dst netip.AddrPort
	mu  sync.Mutex // guards key, buf and splitBuf: the sender and the answer workers share them
	key *sealer
	buf []byte
	// splitBuf is the scratch space for packets larger than MaxDataPacket.
	splitBuf []byte
	sendOne  func([]byte) error // bound once: a method value allocates

	sealed, failed, split, oversize atomic.Uint64
}

func newDataSender(s *Server, dst netip.AddrPort, key *sealer) *dataSender {
	d := &dataSender{s: s, dst: dst, key: key,
		buf: make([]byte, 0, MaxDataPacket+SealOverhead), splitBuf: make([]byte, 0, MaxDataPacket)}
	d.sendOne = d.sendLocked
	return d
}

// send seals pkt (split at message boundaries when it is larger than
// MaxDataPacket) and sends it. A message that cannot fit one datagram is
// counted as oversize and dropped. Any goroutine.
func (d *dataSender) send(pkt []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(pkt) <= MaxDataPacket {
		return d.sendLocked(pkt)
	}
	err := wire.Split(pkt, MaxDataPacket, d.splitBuf, d.sendOne)
	switch {
	case err == nil:
		d.split.Add(1)
	case errors.Is(err, wire.ErrTooLarge):
		d.oversize.Add(1)
		return nil
	}
	return err
}

// sendLocked seals and sends one datagram; d.mu is held.
func (d *dataSender) sendLocked(pkt []byte) error {
	d.buf = d.key.seal(d.buf, typeData, d.sealed.Add(1), pkt)
	if _, err := d.s.udp.WriteToUDPAddrPort(d.buf, d.dst); err != nil {
		d.failed.Add(1)
		return err
	}
	return nil
}

// enqueue hands a live packet to the client's sender, queued at now (the
// server's clock); called by Publish.
func (c *serverConn) enqueue(pkt []byte, now int64) {
	if c.q.pushAt(pkt, now) {
		c.noteSent()
		return
	}
	c.dropped.Add(1)
	c.noteDropped()
	if !c.dropLogged.Load() && !c.dropLogged.Swap(true) {
		c.s.log.Warn("link: client too slow, dropping live packets (it recovers by NACK or snapshot)",
			"remote", c.remote, "name", c.name, "queue", c.s.queueLen)
	}
}

// sendLoop sends the client's queued live packets until ctx ends.
func (c *serverConn) sendLoop(ctx context.Context) {
	for {
		pkt, ok := c.q.pop()
		if !ok {
			if !c.q.wait(ctx.Done()) {
				return
			}
			continue
		}
		if c.data.send(pkt) == nil {
			c.datagrams.Add(1)
		}
		c.q.release(pkt)
	}
}
