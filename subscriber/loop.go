package subscriber

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/internal/fault"
	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/recovery"
	"github.com/tickcast/tickcast/wire"
)

// The recovery loop's receiving side (package recovery): a subscriber
// without a link that joins late or loses a gap for good joins the
// recovery groups, takes each book as the loop brings it, and leaves the
// groups once every book is whole.

// loopMember joins and leaves the recovery groups as the dispatcher asks.
// Its goroutine (run) is owned by Subscriber.Run; it owns the readers.
type loopMember struct {
	s    *Subscriber
	want atomic.Bool   // the dispatcher wants the groups joined
	kick chan struct{} // want changed

	joins   atomic.Uint64
	joined  atomic.Bool
	mu      sync.Mutex
	readers []*loopReader // the current membership's, for Stats
}

// set asks for the groups joined (or left). Any goroutine; never blocks.
func (m *loopMember) set(join bool) {
	if m.want.Swap(join) != join {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// run follows want until ctx ends.
func (m *loopMember) run(ctx context.Context) {
	var (
		stop func() // ends the current membership and waits for its readers
	)
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		switch want := m.want.Load(); {
		case want && stop == nil:
			var err error
			if stop, err = m.join(ctx); err != nil {
				m.s.log.Warn("cannot join the recovery groups; retrying", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				continue
			}
		case !want && stop != nil:
			stop()
			stop = nil
			m.joined.Store(false)
			m.s.log.Info("left the recovery groups")
		}
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		}
	}
}

// join opens a receiver per recovery line and starts its reader; the
// returned func closes them and waits for the readers.
func (m *loopMember) join(ctx context.Context) (func(), error) {
	var readers []*loopReader
	closeAll := func() {
		for _, r := range readers {
			r.recv.Close()
		}
	}
	for i, l := range m.s.cfg.Recovery {
		recv, err := mcast.Listen(mcast.RecvConfig{Group: l.Group, Interface: l.Interface, Source: l.Source, Logger: m.s.log})
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("recovery line %d (%s on %s): %w", i, l.Group, l.Interface, err)
		}
		r := &loopReader{s: m.s, recv: recv, asm: recovery.NewAssembler(m.s.cfg.Channel)}
		readers = append(readers, r)
		if l.Faults != "" {
			fc, err := fault.ParseSpec(l.Faults)
			if err == nil {
				r.faults, err = fault.New(fc)
			}
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("recovery line %d faults: %w", i, err)
			}
		}
	}
	m.mu.Lock()
	m.readers = readers
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range readers {
		wg.Go(func() { r.run() })
	}
	m.joins.Add(1)
	m.joined.Store(true)
	m.s.log.Info("joined the recovery groups", "lines", len(readers))
	return func() {
		closeAll()
		wg.Wait()
	}, nil
}

// stats sums the latest membership's readers' counters.
func (m *loopMember) stats() (datagrams uint64, asm recovery.AssemblerStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.readers {
		datagrams += r.datagrams.Load()
		a := r.stats()
		asm.Packets += a.Packets
		asm.Books += a.Books
		asm.Broken += a.Broken
		asm.Mismatch += a.Mismatch
		asm.Malformed += a.Malformed
	}
	return datagrams, asm
}

// loopReader reads one recovery line and hands each book it completes to
// the dispatcher.
type loopReader struct {
	s         *Subscriber
	recv      *mcast.Receiver
	faults    *fault.Injector
	asm       *recovery.Assembler
	views     [][]byte
	datagrams atomic.Uint64
	mu        sync.Mutex              // guards last
	last      recovery.AssemblerStats // asm's counters after the last batch
}

func (r *loopReader) run() {
	for {
		dgs, err := r.recv.ReadBatch()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.s.log.Warn("recovery line read failed", "err", err)
			}
			return
		}
		r.datagrams.Add(uint64(len(dgs)))
		r.views = r.views[:0]
		for _, d := range dgs {
			r.views = append(r.views, d.Data)
		}
		if r.faults != nil {
			r.views = r.faults.Apply(time.Now().UnixNano(), r.views)
		}
		for _, b := range r.views {
			p, err := wire.Parse(b)
			if err != nil {
				continue // counted by the assembler's Malformed only when it parses
			}
			r.asm.Packet(p, r.book)
		}
		r.mu.Lock()
		r.last = r.asm.Stats()
		r.mu.Unlock()
	}
}

// book hands a completed book to the dispatcher.
func (r *loopReader) book(b *recovery.Book) {
	r.s.in.Do(func() { r.s.disp.loopBook(b) })
}

func (r *loopReader) stats() recovery.AssemblerStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}
