package link

import (
	"context"
	"errors"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/wire"
)

// Live fan-out to one client (DESIGN.md, "The QUIC link": live packets flow
// as QUIC DATAGRAMs): Publish enqueues, the client's sender goroutine sends.

// enqueue hands a live packet to the client's sender; called by Publish.
func (c *serverConn) enqueue(pkt []byte) {
	if c.q.push(pkt) {
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

// sendLoop sends the client's queued live packets as datagrams, splitting
// those larger than the datagram limit.
func (c *serverConn) sendLoop(ctx context.Context) {
	var scratch []byte
	var tooLarge *quic.DatagramTooLargeError // declared once: errors.As makes it escape
	for {
		pkt, ok := c.q.pop()
		if !ok {
			if !c.q.wait(ctx.Done()) {
				return
			}
			continue
		}
		err := c.conn.SendDatagram(pkt)
		switch {
		case err == nil:
			c.datagrams.Add(1)
		case errors.As(err, &tooLarge):
			limit := int(tooLarge.MaxDatagramPayloadSize)
			if cap(scratch) < limit {
				scratch = make([]byte, 0, limit)
			}
			err = wire.Split(pkt, limit, scratch, c.sendPiece)
			switch {
			case err == nil:
				c.split.Add(1)
			case errors.Is(err, wire.ErrTooLarge) || errors.As(err, &tooLarge):
				c.oversize.Add(1)
			}
		}
		c.q.release(pkt)
		if err != nil && c.conn.Context().Err() != nil {
			return // the connection is gone
		}
	}
}

// sendDatagram sends one piece of a split packet.
func (c *serverConn) sendDatagram(p []byte) error {
	if err := c.conn.SendDatagram(p); err != nil {
		return err
	}
	c.datagrams.Add(1)
	return nil
}
