package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/internal/mcast"
	"github.com/tickcast/tickcast/latency"
	"github.com/tickcast/tickcast/wire"
)

// The raw-UDP floor (DESIGN.md, "Measure against a floor"): the same
// stream, packed into the same packets, paced the same way and moved with
// the same batch syscalls (sendmmsg on every line, recvmmsg), without any of
// tickcast's logic: no sequencer goroutine, no cache, no arbiter, no books.
// Every tickcast figure reads as a ratio to it.

// packer packs a batch of whole messages into numbered packets of at most
// max bytes, as the publisher's sequencer does.
type packer struct {
	max     int
	session uint64
	next    uint64 // sequence of the next message
	bufs    [][]byte
	pkts    [][]byte
	pb      wire.Builder
}

func newPacker(max int) *packer {
	if max == 0 {
		max = wire.DefaultMaxPacket
	}
	return &packer{max: max, session: uint64(time.Now().UnixNano()), next: 1}
}

// startPacket starts packet number n of the batch.
func (p *packer) startPacket(n int) {
	if n == len(p.bufs) {
		p.bufs = append(p.bufs, make([]byte, 0, p.max))
	}
	p.pb.Reset(p.bufs[n], p.max, wire.Header{Channel: benchChannel, Session: p.session, Seq: p.next})
}

// pack returns b's messages in packets sent at now; the packets are valid
// until the next call.
func (p *packer) pack(b []byte, now int64) [][]byte {
	p.pkts = p.pkts[:0]
	p.startPacket(0)
	for off := 0; off+wire.MsgHeaderLen <= len(b); {
		msg := b[off : off+int(binary.LittleEndian.Uint16(b[off:]))]
		if !p.pb.AddRaw(msg) {
			p.pkts = append(p.pkts, p.pb.Finish(now))
			p.startPacket(len(p.pkts))
			p.pb.AddRaw(msg) // fits an empty packet: messages are small
		}
		p.next++
		off += len(msg)
	}
	if p.pb.Count() > 0 {
		p.pkts = append(p.pkts, p.pb.Finish(now))
	}
	return p.pkts
}

// end returns the end-of-session packet.
func (p *packer) end(now int64) []byte {
	h := wire.Header{Flags: wire.FlagEndOfSession, Channel: benchChannel, Session: p.session, Seq: p.next, SendTime: now}
	return h.Append(nil)
}

// runUDPPubChild is the floor's sender: the feed, packed, written to every
// line with sendmmsg from the pacing goroutine itself.
func runUDPPubChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	f, err := newFeed(c.Feed)
	if err != nil {
		return nil, err
	}
	var lines []*mcast.Sender
	defer func() {
		for _, l := range lines {
			l.Close()
		}
	}()
	for _, g := range c.Groups {
		s, err := mcast.Dial(mcast.SendConfig{Group: g, Interface: c.Interface, TTL: 0, Loopback: true, MaxPacket: c.MaxPacket, Logger: env.log})
		if err != nil {
			return nil, err
		}
		lines = append(lines, s)
	}
	pk := newPacker(c.MaxPacket)
	var r pubResult
	var counts [3]uint64 // packets, datagrams, bytes
	win := windowCounts{read: func() [3]uint64 { return counts }}
	send := func(pkts [][]byte) {
		for _, l := range lines {
			n, err := l.WriteBatch(pkts)
			counts[1] += uint64(n)
			for _, p := range pkts[:n] {
				counts[2] += uint64(len(p))
			}
			if err != nil {
				r.SendErrors++
			}
		}
	}
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	env.ready()
	if f.start, err = env.awaitStart(ctx); err != nil {
		return nil, err
	}
	r.Pace, err = f.pace(c.DeadlineNs, &stop, paceHooks{
		emit: func(b []byte, now int64) error {
			pkts := pk.pack(b, now)
			counts[0] += uint64(len(pkts))
			send(pkts)
			return nil
		},
		windowStart: win.start,
		windowEnd:   win.end,
	})
	if err != nil {
		return nil, err
	}
	end := pk.end(time.Now().UnixNano())
	send([][]byte{end, end, end}) // the receiver stops on the first it sees
	win.fill(&r)
	r.Proc = self("floor sender")
	return r, nil
}

// floorLine is one line of the floor's receiver, owned by the goroutine
// reading it.
type floorLine struct {
	recv                      *mcast.Receiver
	lat, uncorrected, network *latency.Recorder
	delivered                 uint64
	err                       error
}

// floorRecv is the floor's receiver: first copy wins by a high-water mark
// of sequences (each line delivers in order), and every new message of the
// window is recorded from its scheduled time.
type floorRecv struct {
	win     window
	hi      atomic.Uint64 // the sequence after the newest message seen on any line
	endOnce sync.Once
	end     chan struct{}
	lines   []*floorLine
}

// batch handles one batch of datagrams received at now.
func (f *floorRecv) batch(l *floorLine, dgs []mcast.Datagram, now int64) {
	for _, d := range dgs {
		b := d.Data
		if len(b) < wire.HeaderLen || b[0] != wire.Magic0 || b[1] != wire.Magic1 {
			continue
		}
		if wire.Flags(b[3])&wire.FlagEndOfSession != 0 {
			f.endOnce.Do(func() { close(f.end) })
			continue
		}
		count := uint64(binary.LittleEndian.Uint16(b[6:]))
		seq := binary.LittleEndian.Uint64(b[16:])
		sent := int64(binary.LittleEndian.Uint64(b[24:]))
		last := seq + count
		var from uint64 // the first sequence of the packet not seen before
		for {
			h := f.hi.Load()
			if last <= h {
				from = last // a duplicate
				break
			}
			if f.hi.CompareAndSwap(h, last) {
				from = max(seq, h)
				break
			}
		}
		off, recorded := wire.HeaderLen, false
		for s := seq; s < last && off+wire.MsgHeaderLen <= len(b); s++ {
			n := int(binary.LittleEndian.Uint16(b[off:]))
			if n < wire.MsgHeaderLen || off+n > len(b) {
				break
			}
			if s >= from && n >= exchTimeOff+8 {
				if t := wire.Type(b[off+2]); t == wire.TypeLevelUpdate || t == wire.TypeTrade {
					if exch := binary.LittleEndian.Uint64(b[off+exchTimeOff:]); f.win.has(exch) {
						l.lat.RecordNanos(now - int64(exch))
						l.uncorrected.RecordNanos(now - sent)
						l.delivered++
						recorded = true
					}
				}
			}
			off += n
		}
		if recorded && d.KernelTime != 0 {
			l.network.RecordNanos(d.KernelTime - sent)
		}
	}
}

// read reads l until its socket is closed.
func (f *floorRecv) read(l *floorLine) {
	for {
		dgs, err := l.recv.ReadBatch()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.err = err
			}
			return
		}
		f.batch(l, dgs, time.Now().UnixNano())
	}
}

// poll spins on every line without blocking until stop is set (busy poll).
func (f *floorRecv) poll(stop *atomic.Bool) {
	for !stop.Load() {
		for _, l := range f.lines {
			dgs, err := l.recv.TryReadBatch()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					l.err = err
				}
				return
			}
			if len(dgs) > 0 {
				f.batch(l, dgs, time.Now().UnixNano())
			}
		}
	}
}

// runUDPSubChild is the floor's receiver.
func runUDPSubChild(ctx context.Context, c *childConfig, env *childEnv) (any, error) {
	f := &floorRecv{end: make(chan struct{})}
	defer func() {
		for _, l := range f.lines {
			l.recv.Close()
		}
	}()
	for _, g := range c.Groups {
		r, err := mcast.Listen(mcast.RecvConfig{Group: g, Interface: c.Interface, Timestamps: true, Logger: env.log})
		if err != nil {
			return nil, err
		}
		f.lines = append(f.lines, &floorLine{recv: r, lat: latency.NewRecorder(maxLatency),
			uncorrected: latency.NewRecorder(maxLatency), network: latency.NewRecorder(maxLatency)})
	}
	var wg sync.WaitGroup
	var stop atomic.Bool
	if c.BusyPoll {
		wg.Go(func() { f.poll(&stop) })
	} else {
		for _, l := range f.lines {
			wg.Go(func() { f.read(l) })
		}
	}
	env.ready()
	if err := f.win.await(ctx, env, c.Feed); err == nil {
		select {
		case <-f.end:
			// The other line may still hold the copy of a packet the first
			// one lost: give it a moment.
			time.Sleep(20 * time.Millisecond)
		case <-ctx.Done():
		}
	}
	stop.Store(true)
	for _, l := range f.lines {
		l.recv.Close()
	}
	wg.Wait()
	r := subResult{Latency: latency.NewRecorder(maxLatency), Uncorrected: latency.NewRecorder(maxLatency),
		Network: latency.NewRecorder(maxLatency)}
	select {
	case <-f.end:
		r.EndSeen = true
	default:
	}
	for _, l := range f.lines {
		if l.err != nil {
			return nil, l.err
		}
		r.Delivered += l.delivered
		r.Latency.Merge(l.lat)
		r.Uncorrected.Merge(l.uncorrected)
		r.Network.Merge(l.network)
		r.Datagrams += l.recv.Stats().Datagrams
	}
	r.Proc = self("floor receiver")
	return r, nil
}
