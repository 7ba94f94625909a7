package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/wire"
)

// The NATS peer: the same stream and pacing through an embedded NATS server
// (core NATS, no JetStream): one NATS message per market message, its payload
// the message itself (mostly 40-byte LevelUpdates, carrying the scheduled
// time). The server runs in the parent; publisher and subscriber are child
// processes with nats.go clients, as the tickcast sides are.

// natsSubject is the subject the peer publishes on.
const natsSubject = "tickcast.bench"

// natsServer is the embedded NATS server of a run.
type natsServer struct {
	s *server.Server
}

// startNATS starts a NATS server on a free port of 127.0.0.1.
func startNATS() (*natsServer, error) {
	s, err := server.NewServer(&server.Options{
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		NoLog:         true,
		NoSigs:        true,
		MaxPending:    1 << 30, // a slow subscriber is buffered, not cut, as far as memory allows
		WriteDeadline: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server: not ready after 10s")
	}
	return &natsServer{s: s}, nil
}

// URL returns the client URL.
func (n *natsServer) URL() string { return n.s.ClientURL() }

// close shuts the server down and waits until it has.
func (n *natsServer) close() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}

// natsConnect connects a child's client, counting asynchronous errors (a
// slow consumer).
func natsConnect(url, name string, asyncErrs *atomic.Uint64) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.NoReconnect(),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) { asyncErrs.Add(1) }))
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", url, err)
	}
	return nc, nil
}

// runNATSPubChild is the peer's publisher: the paced feed, one Publish per
// message (nats.go buffers them and its flusher writes as soon as it can).
func runNATSPubChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	f, err := newFeed(c.Feed)
	if err != nil {
		return nil, err
	}
	var asyncErrs atomic.Uint64
	nc, err := natsConnect(c.NATSURL, "tickcast-bench-pub", &asyncErrs)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	var r pubResult
	win := windowCounts{read: func() [3]uint64 {
		st := nc.Stats()
		return [3]uint64{0, st.OutMsgs, st.OutBytes}
	}}
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	env.ready()
	if f.start, err = env.awaitStart(ctx); err != nil {
		return nil, err
	}
	r.Pace, err = f.pace(c.DeadlineNs, &stop, paceHooks{
		emit: func(b []byte, _ int64) error {
			for off := 0; off+wire.MsgHeaderLen <= len(b); {
				n := int(binary.LittleEndian.Uint16(b[off:]))
				if err := nc.Publish(c.Subject, b[off:off+n]); err != nil {
					return fmt.Errorf("nats publish: %w", err)
				}
				off += n
			}
			return nil
		},
		windowStart: win.start,
		windowEnd:   win.end,
	})
	if err != nil {
		return nil, err
	}
	// An empty message ends the run; core NATS keeps a connection's order.
	if err := nc.Publish(c.Subject, nil); err != nil {
		return nil, fmt.Errorf("nats publish: %w", err)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		return nil, fmt.Errorf("nats flush: %w", err)
	}
	win.fill(&r)
	r.SendErrors = asyncErrs.Load()
	r.Proc = self("nats publisher")
	return r, nil
}

// natsRecv is the peer's subscriber callback state, guarded by mu (the
// callback runs on nats.go's goroutine).
type natsRecv struct {
	mu        sync.Mutex
	win       window
	lat       *latency.Recorder
	delivered uint64
	dups      uint64
	received  uint64
	last      uint64 // the newest scheduled time seen: it orders the messages
	end       chan struct{}
	ended     bool
}

func (n *natsRecv) handle(m *nats.Msg) {
	now := time.Now().UnixNano()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.received++
	if len(m.Data) == 0 {
		if !n.ended {
			n.ended = true
			close(n.end)
		}
		return
	}
	if len(m.Data) < exchTimeOff+8 {
		return
	}
	exch := binary.LittleEndian.Uint64(m.Data[exchTimeOff:])
	if exch <= n.last && exch != 0 {
		n.dups++ // scheduled times are distinct and increase
		return
	}
	n.last = max(n.last, exch)
	if n.win.has(exch) {
		n.lat.RecordNanos(now - int64(exch))
		n.delivered++
	}
}

// runNATSSubChild is the peer's subscriber: an asynchronous subscription
// with unlimited pending messages (nothing dropped on the client side).
func runNATSSubChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	var asyncErrs atomic.Uint64
	nc, err := natsConnect(c.NATSURL, "tickcast-bench-sub", &asyncErrs)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	n := &natsRecv{lat: latency.NewRecorder(maxLatency), end: make(chan struct{})}
	sub, err := nc.Subscribe(c.Subject, n.handle)
	if err != nil {
		return nil, fmt.Errorf("nats subscribe: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("nats pending limits: %w", err)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil { // the server has the subscription
		return nil, fmt.Errorf("nats flush: %w", err)
	}
	env.ready()
	if err := n.win.await(ctx, env, c.Feed); err == nil {
		select {
		case <-n.end:
		case <-ctx.Done():
		}
	}
	dropped, _ := sub.Dropped()
	sub.Unsubscribe()
	// A callback still running records into n.lat: take a copy.
	n.mu.Lock()
	defer n.mu.Unlock()
	lat := latency.NewRecorder(maxLatency)
	lat.Merge(n.lat)
	r := subResult{
		Delivered: n.delivered, Duplicates: n.dups, Latency: lat, EndSeen: n.ended,
		Datagrams: n.received, GaveUp: uint64(max(dropped, 0)) + asyncErrs.Load(),
		Proc: self("nats subscriber"),
	}
	return r, nil
}
