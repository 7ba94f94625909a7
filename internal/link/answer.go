package link

import (
	"context"
	"fmt"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/tickcast/tickcast/wire"
)

// Answers to NACKs and snapshot requests, prepared by the client's answer
// workers: retransmissions on the data path, rejects and snapshots each on a
// new unidirectional stream.

// Retry-after hints put in rejects the feed returns without one.
const (
	retryAfterRateLimited = 100 // ms
	retryAfterNotYetSent  = 10  // ms
)

// answer runs fn on an answer worker, waiting while workersPerClient are
// busy (which in turn stops reading the control stream: back-pressure).
func (c *serverConn) answer(fn func(ctx context.Context)) error {
	select {
	case c.sem <- struct{}{}:
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
	c.work.Go(func() {
		defer func() { <-c.sem }()
		fn(c.ctx)
	})
	return nil
}

// sendRetransmit answers one NACK from the feed: the packets on the data
// path (like live ones, outside QUIC's congestion control: a lossy WAN path
// must not throttle its own repair), a reject on a new stream. A range the
// feed served in part up to the newest sequence sent gets, after the part
// sent, a "not yet sent" reject for the rest only.
func (c *serverConn) sendRetransmit(ctx context.Context, r wire.RetransmitRequest) {
	now := time.Now()
	budget, reason, retryMs := c.s.policy.Admit(c.addr, now)
	if budget == 0 {
		c.policyRejects.Add(1)
		c.sendRejectRetry(ctx, r, reason, retryMs)
		return
	}
	_, maxBytes := c.s.policy.Caps()
	sent, reason, err := c.s.feed.Retransmit(r.Channel, r.Session, r.FirstSeq, r.Count, budget, maxBytes, c.emitData)
	c.s.policy.Charge(c.addr, int(sent), now)
	switch {
	case err != nil:
		c.failed.Add(1)
	case reason != 0:
		if sent > 0 && reason == wire.RejectNotYetSent {
			r.FirstSeq += uint64(sent)
			r.Count -= sent
		}
		c.sendReject(ctx, r, reason)
	}
}

// emitData sends one retransmitted packet on the data path.
func (c *serverConn) emitData(pkt []byte) error {
	if err := c.data.send(pkt); err != nil {
		return err
	}
	c.retransmitted.Add(1)
	return nil
}

// sendReject answers a request with a RetransmitReject on a new stream,
// with the reason's usual retry-after hint.
func (c *serverConn) sendReject(ctx context.Context, r wire.RetransmitRequest, reason wire.RejectReason) {
	var retryMs uint32
	switch reason {
	case wire.RejectRateLimited:
		retryMs = retryAfterRateLimited
	case wire.RejectNotYetSent:
		retryMs = retryAfterNotYetSent
	}
	c.sendRejectRetry(ctx, r, reason, retryMs)
}

// sendRejectRetry answers a request with a RetransmitReject carrying the
// given retry-after hint, on a new stream.
func (c *serverConn) sendRejectRetry(ctx context.Context, r wire.RetransmitRequest, reason wire.RejectReason, retryMs uint32) {
	w, err := c.openAnswer(ctx)
	if err != nil {
		return
	}
	c.rejects.Add(1)
	rej := wire.RetransmitReject{Channel: r.Channel, Reason: reason, Count: r.Count, Session: r.Session, FirstSeq: r.FirstSeq, RetryAfterMs: retryMs}
	w.buf = appendControlFrame(w.buf[:0], r.Channel, r.Session, time.Now().UnixNano(), rej)
	_, err = w.st.Write(w.buf)
	c.finishAnswer(w, err)
}

// sendSnapshot sends the feed's snapshot on a new stream.
func (c *serverConn) sendSnapshot(ctx context.Context, r wire.SnapshotRequest) {
	c.snapshots.Add(1)
	w, err := c.openAnswer(ctx)
	if err != nil {
		return
	}
	c.finishAnswer(w, c.s.feed.Snapshot(ctx, r.Channel, r.Instrument, w.emit))
}

func (c *serverConn) openAnswer(ctx context.Context) (*answerStream, error) {
	st, err := c.conn.OpenUniStreamSync(ctx)
	if err != nil {
		c.failed.Add(1)
		return nil, err
	}
	return &answerStream{st: st, buf: make([]byte, 0, 2048)}, nil
}

// finishAnswer ends the stream cleanly, or resets it when err says the answer
// is incomplete (the client must not take a cut snapshot for a whole one).
func (c *serverConn) finishAnswer(w *answerStream, err error) {
	if err != nil {
		c.failed.Add(1)
		w.st.CancelWrite(streamFailed)
		return
	}
	w.st.Close()
}

// answerStream writes length-prefixed packets on one answer stream.
type answerStream struct {
	st  *quic.SendStream
	buf []byte
}

func (w *answerStream) emit(pkt []byte) error {
	if len(pkt) > MaxStreamPacket {
		return fmt.Errorf("link: answer packet of %d bytes exceeds %d", len(pkt), MaxStreamPacket)
	}
	w.buf = appendFrame(w.buf[:0], pkt)
	_, err := w.st.Write(w.buf)
	return err
}
