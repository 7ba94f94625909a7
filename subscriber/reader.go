package subscriber

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gap"
	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/wire"
)

// lineReader reads one multicast line with recvmmsg and offers each batch to
// the stream under one lock: no goroutine hand-off between the socket and
// the arbiter.
type lineReader struct {
	index    int
	recv     *mcast.Receiver
	faults   *fault.Injector
	stream   *gap.Stream
	dispatch func() // runs the dispatcher here if no other goroutine does

	malformed atomic.Uint64
	datagrams atomic.Uint64
}

// run reads until the socket is closed.
func (r *lineReader) run() error {
	pkts := make([]wire.Packet, 0, 256)
	rx := make([]int64, 0, 256)
	views := make([][]byte, 0, 256)
	for {
		dgs, err := r.recv.ReadBatch()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		now := time.Now().UnixNano()
		r.datagrams.Add(uint64(len(dgs)))
		pkts, rx = pkts[:0], rx[:0]
		if r.faults != nil {
			views = views[:0]
			for i := range dgs {
				views = append(views, dgs[i].Data)
			}
			for _, b := range r.faults.Apply(now, views) {
				pkts, rx = r.parse(pkts, rx, b, now)
			}
		} else {
			for i := range dgs {
				t := now
				if dgs[i].KernelTime != 0 {
					t = dgs[i].KernelTime
				}
				pkts, rx = r.parse(pkts, rx, dgs[i].Data, t)
			}
		}
		r.stream.OfferBatch(r.index, pkts, rx)
		r.dispatch()
	}
}

// parse validates one datagram; a malformed one is counted and dropped.
func (r *lineReader) parse(pkts []wire.Packet, rx []int64, b []byte, t int64) ([]wire.Packet, []int64) {
	p, err := wire.Parse(b)
	if err != nil {
		r.malformed.Add(1)
		return pkts, rx
	}
	return append(pkts, p), append(rx, t)
}
