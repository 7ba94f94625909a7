package intake

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/wire"
)

// lineReader reads one multicast line with recvmmsg and offers each batch to
// the stream under one lock, then runs the dispatcher on the same goroutine:
// no goroutine hand-off between the socket and the consumer.
type lineReader struct {
	index    int
	name     string
	recv     *mcast.Receiver
	faults   *fault.Injector
	stream   *gap.Stream
	dispatch func() // runs the dispatcher here if no other goroutine does

	pkts  []wire.Packet
	rx    []int64
	src   []netip.AddrPort // the sender of pkts[i]; zero after fault injection
	views [][]byte
	dgs   []mcast.Datagram // Intake.Inject's batch

	foreign     *foreignSources
	notFollowed func(i int) // r.countForeign, bound once

	malformed atomic.Uint64
	datagrams atomic.Uint64
	bytes     atomic.Uint64
}

func (r *lineReader) init() {
	r.pkts = make([]wire.Packet, 0, 1024)
	r.rx = make([]int64, 0, 1024)
	r.src = make([]netip.AddrPort, 0, 1024)
	r.views = make([][]byte, 0, 1024)
	r.notFollowed = r.countForeign
}

// countForeign counts pkts[i], of a session not followed, by its sender.
// The stream calls it, locked.
func (r *lineReader) countForeign(i int) {
	r.foreign.add(r.src[i], r.name, r.pkts[i].Session)
}

// run reads until the socket is closed, parking between batches.
func (r *lineReader) run() error {
	for {
		dgs, err := r.recv.ReadBatch()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		r.process(dgs)
	}
}

// pollLines is the busy-polling reader (Config.BusyPoll): one goroutine
// spins over every line's socket with non-blocking recvmmsg and never parks,
// so no packet waits for a sleeping vCPU to wake. It costs a core.
func pollLines(ctx context.Context, readers []*lineReader) error {
	done := ctx.Done()
	for idle := 0; ; {
		got := false
		for _, r := range readers {
			dgs, err := r.recv.TryReadBatch()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return nil
				}
				return err
			}
			if len(dgs) > 0 {
				r.process(dgs)
				got = true
			}
		}
		if got {
			idle = 0
			continue
		}
		if idle++; idle&1023 == 0 {
			select {
			case <-done:
				return nil
			default:
			}
			runtime.Gosched() // let the other goroutines of this process run
		}
	}
}

// process validates a batch of datagrams, offers it to the stream and
// dispatches what it delivered.
func (r *lineReader) process(dgs []mcast.Datagram) {
	now := time.Now().UnixNano()
	r.datagrams.Add(uint64(len(dgs)))
	r.pkts, r.rx, r.src = r.pkts[:0], r.rx[:0], r.src[:0]
	n := 0
	for i := range dgs {
		n += len(dgs[i].Data)
	}
	r.bytes.Add(uint64(n))
	if r.faults != nil {
		r.views = r.views[:0]
		for i := range dgs {
			r.views = append(r.views, dgs[i].Data)
		}
		for _, b := range r.faults.Apply(now, r.views) {
			r.parse(b, now, netip.AddrPort{})
		}
	} else {
		for i := range dgs {
			t := now
			if dgs[i].KernelTime != 0 {
				t = dgs[i].KernelTime
			}
			r.parse(dgs[i].Data, t, dgs[i].Src)
		}
	}
	r.stream.OfferBatch(r.index, r.pkts, r.rx, r.notFollowed)
	r.dispatch()
}

// parse validates one datagram from src; a malformed one is counted and
// dropped.
func (r *lineReader) parse(b []byte, t int64, src netip.AddrPort) {
	p, err := wire.Parse(b)
	if err != nil {
		r.malformed.Add(1)
		return
	}
	r.pkts = append(r.pkts, p)
	r.rx = append(r.rx, t)
	r.src = append(r.src, src)
}
