package link

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Slow downstream cutoff (DESIGN.md, "Promises": a slow downstream is cut
// off and named, never slows the others). The data path has no congestion
// control (it carries the feed at the feed's rate, as multicast does), so
// the server watches each client for three signs that it is not keeping up:
//
//   - its live queue here refuses every packet (a backlog episode starts at
//     the first refusal and ends only when the queue is back to half empty
//     or less, so a client that drains a little all the while is caught too);
//   - its receiver reports show it losing more than ServerConfig.SlowLoss of
//     its datagrams over the last reports' window (a path narrower than the
//     feed, or a Handler too slow at its end); the episode ends when the
//     loss is back under half of that;
//   - no receiver report has come for SlowCutoff while datagrams were sent.
//
// A client in an episode for longer than ServerConfig.SlowCutoff is
// disconnected with CodeSlowConsumer and a reason the client reads.

// DefaultSlowCutoff is ServerConfig.SlowCutoff's value when it is 0.
const DefaultSlowCutoff = 2 * time.Second

// DefaultSlowLoss is ServerConfig.SlowLoss's value when it is 0: well above
// a bad WAN path's loss (5 %), far below a path carrying a tenth of the feed.
const DefaultSlowLoss = 0.25

// CodeSlowConsumer is the QUIC application error code of a link the server
// closed because the client did not keep up for longer than the server's
// SlowCutoff. The error's reason string says how.
const CodeSlowConsumer quic.ApplicationErrorCode = 4

// reportWindowLen is how many reports the loss is measured over: about a
// second of them.
const reportWindowLen = 4

// reportWindow is the last receiver reports of a client, with what the
// server had sealed for it when each arrived. In steady state the datagrams
// in flight are the same at both ends of the window, so they cancel out.
type reportWindow struct {
	mu    sync.Mutex
	key   *sealer
	buf   []byte
	seen  replayWindow // the client's datagram counters (reports and NACKs)
	n     int          // reports held
	sent  [reportWindowLen]uint64
	recv  [reportWindowLen]uint64
	since time.Time // start of the current loss episode; zero when none
}

// fromClient takes one datagram the client sent on the data path: a
// receiver report or NACKs. One that fails authentication, repeats a
// counter or does not parse is counted and dropped. The server's data
// reader.
func (c *serverConn) fromClient(b []byte, now time.Time) {
	if len(b) == 0 {
		return
	}
	w := &c.rep
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf[:0], b...)
	counter, payload, err := w.key.open(w.buf, b[0])
	if err != nil || !w.seen.accept(counter) {
		c.badReports.Add(1)
		return
	}
	switch b[0] {
	case typeReport:
		r, ok := parseReport(payload)
		if !ok {
			c.badReports.Add(1)
			return
		}
		c.onReportLocked(r, now)
	case typeRequest:
		c.onRequests(payload)
	default:
		c.badReports.Add(1)
	}
}

// onReportLocked takes one receiver report; c.rep.mu is held.
func (c *serverConn) onReportLocked(r report, now time.Time) {
	w := &c.rep
	sent := c.data.sealed.Load()
	i := w.n % reportWindowLen
	oldSent, oldRecv := w.sent[i], w.recv[i] // the report a window ago
	w.sent[i], w.recv[i] = sent, r.received
	w.n++
	c.lastReport.Store(now.UnixNano())
	if w.n <= reportWindowLen || sent <= oldSent {
		return // a window not full yet, or nothing sent over it
	}
	loss := 0.0
	if got, want := r.received-oldRecv, sent-oldSent; got < want && r.received >= oldRecv {
		loss = 1 - float64(got)/float64(want)
	}
	c.lossPPM.Store(uint32(loss * 1e6))
	switch {
	case loss > c.s.slowLoss:
		if w.since.IsZero() {
			w.since = now
		} else if d := now.Sub(w.since); c.s.slowCutoff > 0 && d > c.s.slowCutoff {
			c.cutSlow(fmt.Sprintf("tickcast: slow consumer: lost %.0f%% of its datagrams for %.1fs", loss*100, d.Seconds()))
		}
	case loss <= c.s.slowLoss/2:
		w.since = time.Time{}
	}
}

// loss returns the client's last measured loss, 0 to 1.
func (c *serverConn) loss() float64 { return float64(c.lossPPM.Load()) / 1e6 }

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
		c.cutSlow(fmt.Sprintf("tickcast: slow consumer: live queue full for %.1fs, %d datagrams dropped",
			full.Seconds(), c.dropped.Load()))
	}
}

// cutSlow asks the watcher to cut the client off with reason (the first
// reason given wins). Any goroutine.
func (c *serverConn) cutSlow(reason string) {
	c.slowOnce.Do(func() {
		c.slowReason = reason
		close(c.slow)
	})
}

// watchSlow closes the connection when cutSlow asks, and asks itself when
// the client's reports stop while datagrams go out, until ctx ends. One of
// the connection's goroutines, owned by run.
func (c *serverConn) watchSlow(ctx context.Context) {
	t := time.NewTicker(reportInterval)
	defer t.Stop()
	sentAtReport, lastReport := c.data.sealed.Load(), c.lastReport.Load()
	for done := false; !done; {
		select {
		case <-c.slow:
			done = true
		case <-ctx.Done():
			return
		case now := <-t.C:
			if at := c.lastReport.Load(); at != lastReport {
				sentAtReport, lastReport = c.data.sealed.Load(), at
			}
			// A few reports may be lost on any path: the rule needs as
			// many missing as a loss window holds.
			silent := now.Sub(time.Unix(0, lastReport))
			if c.s.slowCutoff > 0 && silent > max(c.s.slowCutoff, reportWindowLen*reportInterval) && c.data.sealed.Load() > sentAtReport {
				c.cutSlow(fmt.Sprintf("tickcast: slow consumer: no receiver report for %.1fs while %d datagrams were sent",
					silent.Seconds(), c.data.sealed.Load()-sentAtReport))
			}
		}
	}
	c.cutOff.Store(true)
	c.s.cutOffs.Add(1)
	c.s.mu.Lock()
	c.s.cutOffByName[c.name]++
	c.s.mu.Unlock()
	c.s.log.Warn("link: slow consumer cut off", "remote", c.remote, "name", c.name,
		"reason", c.slowReason, "dropped", c.dropped.Load(), "loss", c.loss(), "cutoff", c.s.slowCutoff)
	c.conn.CloseWithError(CodeSlowConsumer, c.slowReason)
}
