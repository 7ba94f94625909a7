package link

import (
	"context"
	"fmt"
	"time"

	"github.com/quic-go/quic-go"
)

// Slow downstream cutoff (DESIGN.md, "Promises": a slow downstream is cut
// off and named, never slows the others). A backlog episode starts with the
// first live packet a client's full queue refuses and ends only when the
// client has caught up (its queue back to half empty or less); a client
// whose episode lasts longer than ServerConfig.SlowCutoff is disconnected
// with CodeSlowConsumer and a reason the client reads. A client that drains
// a little all the while (one capped at a tenth of the feed) never catches
// up, so it is cut off too, not starved in silence.

// DefaultSlowCutoff is ServerConfig.SlowCutoff's value when it is 0.
const DefaultSlowCutoff = 2 * time.Second

// CodeSlowConsumer is the QUIC application error code of a link the server
// closed because the client's live queue stayed full for longer than the
// server's SlowCutoff. The error's reason string says for how long and how
// many datagrams were dropped.
const CodeSlowConsumer quic.ApplicationErrorCode = 4

// noteSent records that a live packet was queued, which ends a backlog
// episode once the queue is back to half empty. Publish's side; one atomic
// load in the common case.
func (c *serverConn) noteSent() {
	if c.fullSince.Load() != 0 && c.q.live.len() <= c.s.queueLen/2 {
		c.fullSince.Store(0)
	}
}

// noteDropped records a live packet the full queue refused and, once the
// backlog episode has lasted longer than the cutoff, asks the
// connection's watcher to cut the client off. Publish's side.
func (c *serverConn) noteDropped() {
	if c.s.slowCutoff <= 0 {
		return
	}
	now := time.Now().UnixNano()
	since := c.fullSince.Load()
	if since == 0 {
		c.fullSince.Store(now)
		return
	}
	if full := time.Duration(now - since); full > c.s.slowCutoff {
		c.slowOnce.Do(func() {
			c.slowReason = fmt.Sprintf("tickcast: slow consumer: live queue full for %.1fs, %d datagrams dropped",
				full.Seconds(), c.dropped.Load())
			close(c.slow)
		})
	}
}

// watchSlow closes the connection when noteDropped asks, until ctx ends.
// One of the connection's goroutines, owned by run.
func (c *serverConn) watchSlow(ctx context.Context) {
	select {
	case <-c.slow:
	case <-ctx.Done():
		return
	}
	c.cutOff.Store(true)
	c.s.cutOffs.Add(1)
	c.s.log.Warn("link: slow consumer cut off", "remote", c.remote, "name", c.name,
		"reason", c.slowReason, "dropped", c.dropped.Load(), "cutoff", c.s.slowCutoff)
	c.conn.CloseWithError(CodeSlowConsumer, c.slowReason)
}
