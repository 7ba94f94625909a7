package gap

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"sync"

	"github.com/tickcast/tickcast/wire"
)

// CacheConfig bounds a [Cache]. Both bounds hold at once: the oldest packets
// are evicted to stay within the tighter one.
type CacheConfig struct {
	// MaxMessages bounds the span of sequences held, next minus first, holes
	// included (so the sequence index stays collision-free). 0 means 1<<20.
	MaxMessages int
	// MaxBytes bounds the packet bytes held, headers included. 0 means
	// 64 MiB; otherwise at least wire.DefaultMaxPacket. The ring is allocated
	// once, up front.
	MaxBytes int
}

// Cache defaults and limits.
const (
	DefaultCacheMessages = 1 << 20
	DefaultCacheBytes    = 64 << 20
	maxCacheMessages     = 1 << 30
	maxCacheBytes        = 1 << 31
	minPacketLen         = wire.HeaderLen + wire.MsgHeaderLen
)

// Cache is the retransmit cache of one channel (DESIGN.md, "Recovery ladder"
// step 3): a ring of the most recent sequenced packets, bounded by messages and
// by bytes, with O(1) lookup from a sequence to the packet holding it.
//
// It has one writer (the publisher's sequencer, or a relay's in-order arbiter
// output) calling [Cache.Put], and any number of concurrent readers calling
// [Cache.Fetch] (the UDP retransmit [Server], the QUIC link server). Put holds
// the write lock only to copy one packet; Fetch holds the read lock only to
// copy one packet out, never while emitting it, so a slow reader cannot stall
// the writer.
type Cache struct {
	mu sync.RWMutex

	session    uint64
	hasSession bool
	first      uint64 // oldest sequence held; next when nothing is held
	next       uint64 // one past the newest sequence held or skipped

	// data is the byte ring. Each packet is stored contiguously (a packet
	// that does not fit before the end starts again at 0), as a copy of the
	// original with the retransmission flag set and, when it overlapped what
	// was held, only its new messages.
	data []byte
	wpos int // where the next packet is written

	// slots is the packet ring, indexed by packet number & slotMask. The live
	// packets are numbers [head, tail), in wrapping uint32 arithmetic.
	slots      []cacheSlot
	slotMask   uint32
	head, tail uint32

	// index maps seq & indexMask to the number of the packet holding seq.
	// An entry is trusted only if that packet is live and its range holds
	// seq: entries of evicted packets, of a previous lap or inside a hole
	// are stale and fail that check.
	index     []uint32
	indexMask uint64
	maxMsgs   uint64

	scratch sync.Pool // *[]byte for Fetch
}

// cacheSlot locates one packet in the byte ring.
type cacheSlot struct{ off, n uint32 }

// NewCache returns an empty cache with its rings allocated.
func NewCache(cfg CacheConfig) (*Cache, error) {
	if cfg.MaxMessages == 0 {
		cfg.MaxMessages = DefaultCacheMessages
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultCacheBytes
	}
	if cfg.MaxMessages < 1 || cfg.MaxMessages > maxCacheMessages {
		return nil, fmt.Errorf("gap: cache MaxMessages %d: want 1..%d", cfg.MaxMessages, maxCacheMessages)
	}
	if cfg.MaxBytes < wire.DefaultMaxPacket || cfg.MaxBytes > maxCacheBytes {
		return nil, fmt.Errorf("gap: cache MaxBytes %d: want %d..%d", cfg.MaxBytes, wire.DefaultMaxPacket, maxCacheBytes)
	}
	// Every packet holds at least one message and minPacketLen bytes, so
	// this many slots never run out before a bound does.
	packets := min(cfg.MaxMessages, cfg.MaxBytes/minPacketLen)
	nslots := pow2(packets)
	nindex := pow2(cfg.MaxMessages)
	c := &Cache{
		data:      make([]byte, cfg.MaxBytes),
		slots:     make([]cacheSlot, nslots),
		slotMask:  uint32(nslots - 1),
		index:     make([]uint32, nindex),
		indexMask: uint64(nindex - 1),
		maxMsgs:   uint64(cfg.MaxMessages),
	}
	c.scratch.New = func() any {
		b := make([]byte, 0, wire.DefaultMaxPacket)
		return &b
	}
	return c, nil
}

// pow2 returns the smallest power of two ≥ n (n ≥ 1).
func pow2(n int) int { return 1 << bits.Len(uint(n-1)) }

// Session returns the session of the packets held (0 before the first Put).
func (c *Cache) Session() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.session
}

// Bounds returns the oldest sequence held and one past the newest; first ==
// next when nothing is held. Sequences in [first, next) may still be missing
// (holes left by upstream gaps).
func (c *Cache) Bounds() (first, next uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.first, c.next
}

// Put copies a sequenced packet (validated by [wire.Parse], with
// Header.Sequenced true and at least one message) into the cache; other
// packets are ignored. Packets must come in increasing sequence:
//
//   - a packet of another session resets the cache to that session;
//   - a packet entirely older than what was put before is ignored;
//   - a packet overlapping what was put before keeps only its new messages
//     (stored as a packet trimmed at a message boundary);
//   - a jump forward leaves a hole that [Cache.Fetch] reports as too old;
//   - a packet alone bigger than MaxBytes, or with more messages than
//     MaxMessages, is not held and leaves a hole too.
//
// The oldest packets are evicted to stay within both bounds. Put does not
// allocate.
func (c *Cache) Put(p wire.Packet) {
	b := p.Bytes()
	if len(b) < minPacketLen {
		return
	}
	h, err := wire.ParseHeader(b)
	if err != nil || !h.Sequenced() || h.Count == 0 {
		return
	}
	end := h.End()
	if end < h.Seq {
		return // sequence overflow: not a real packet
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hasSession || h.Session != c.session {
		c.reset(h.Session)
	}
	if end <= c.next {
		return // entirely old
	}
	start, body := h.Seq, wire.HeaderLen
	if start < c.next {
		// Overlap: skip the messages already held.
		for ; start < c.next; start++ {
			if len(b)-body < wire.MsgHeaderLen {
				return
			}
			l := int(binary.LittleEndian.Uint16(b[body:]))
			if l < wire.MsgHeaderLen || l > len(b)-body {
				return
			}
			body += l
		}
	}
	n := wire.HeaderLen + len(b) - body
	count := end - start
	c.next = end
	c.evictSpan(end)
	if count > c.maxMsgs || n > len(c.data) {
		return // cannot be held: a hole
	}
	if c.tail-c.head == uint32(len(c.slots)) {
		c.evictOldest()
	}
	w := c.wpos
	if w+n > len(c.data) {
		w = 0
	}
	for c.head != c.tail && c.overlaps(w, n) {
		c.evictOldest()
	}
	if c.head == c.tail {
		c.first = start
	}

	dst := c.data[w : w+n]
	copy(dst, b[:wire.HeaderLen])
	copy(dst[wire.HeaderLen:], b[body:])
	wire.SetFlags(dst, h.Flags|wire.FlagRetransmission)
	wire.SetSeq(dst, start)
	wire.SetCount(dst, uint16(count))
	c.slots[c.tail&c.slotMask] = cacheSlot{off: uint32(w), n: uint32(n)}
	for s := start; s < end; s++ {
		c.index[s&c.indexMask] = c.tail
	}
	c.tail++
	c.wpos = w + n
}

// reset drops everything and starts session s. Lock held.
func (c *Cache) reset(s uint64) {
	c.session, c.hasSession = s, true
	c.head = c.tail
	c.first, c.next = 0, 0
	c.wpos = 0
}

// evictSpan evicts the oldest packets until the span from the oldest held
// sequence to end fits MaxMessages. Lock held.
func (c *Cache) evictSpan(end uint64) {
	for c.head != c.tail && end-c.first > c.maxMsgs {
		c.evictOldest()
	}
	if c.head == c.tail {
		c.first = c.next
	}
}

// evictOldest drops the oldest packet. Lock held; at least one packet held.
func (c *Cache) evictOldest() {
	c.head++
	if c.head == c.tail {
		c.first = c.next
		c.wpos = 0
		return
	}
	c.first = c.seqOf(c.slots[c.head&c.slotMask])
}

// overlaps reports whether the byte range [w, w+n) meets live data, which
// runs circularly from the oldest packet to wpos. Lock held; at least one
// packet held.
func (c *Cache) overlaps(w, n int) bool {
	h, t := int(c.slots[c.head&c.slotMask].off), c.wpos
	if h < t {
		return w < t && w+n > h
	}
	return w < t || w+n > h // wrapped (h == t: the ring is full)
}

// seqOf and countOf read a stored packet's header.
func (c *Cache) seqOf(s cacheSlot) uint64 { return binary.LittleEndian.Uint64(c.data[s.off+16:]) }

func (c *Cache) countOf(s cacheSlot) uint64 {
	return uint64(binary.LittleEndian.Uint16(c.data[s.off+6:]))
}

// lookup returns the live packet holding seq. Read lock held.
func (c *Cache) lookup(seq uint64) (cacheSlot, bool) {
	pn := c.index[seq&c.indexMask]
	if pn-c.head >= c.tail-c.head {
		return cacheSlot{}, false
	}
	s := c.slots[pn&c.slotMask]
	ps := c.seqOf(s)
	if seq < ps || seq-ps >= c.countOf(s) {
		return cacheSlot{}, false
	}
	return s, true
}

// Fetch answers a retransmit request (DESIGN.md, "Control messages"): it calls
// emit with packets flagged [wire.FlagRetransmission], otherwise with their
// original header (channel, session, send time), holding exactly the messages
// [first, first+count) in order: packets are trimmed at message boundaries to
// the asked range, never more. It stops after maxMsgs messages or maxBytes
// packet bytes in total (≤ 0: no limit), trimming the last packet to fit, or
// at the first sequence it does not hold.
//
// It returns how many messages it emitted and, when it could not serve the
// start of the range, why: [wire.RejectUnknownSession] (session differs, or
// nothing was ever put), [wire.RejectTooOld] (first is older than the oldest
// held, or inside a hole), [wire.RejectNotYetSent] (first ≥ next). A range
// served in part up to next returns [wire.RejectNotYetSent] with sent > 0:
// the rest, [first+sent, first+count), was not sent yet (DESIGN.md,
// "Liveness": a receiver learns exactly where the sent part ends, and drops
// a claimed tail past it). A range served in part for another cause (the
// message or byte cap, a hole) returns no reason: asking again for the rest
// tells why. Count 0 emits nothing. An error from emit stops Fetch and is
// returned.
//
// emit gets a buffer valid only during the call. Fetch holds the read lock
// only while copying each packet out, not while emitting it, and does not
// allocate in steady state.
func (c *Cache) Fetch(session, first uint64, count uint32, maxMsgs, maxBytes int, emit func(pkt []byte) error) (sent uint32, reason wire.RejectReason, err error) {
	if count == 0 {
		return 0, 0, nil
	}
	left := uint64(count)
	if maxMsgs > 0 {
		left = min(left, uint64(maxMsgs))
	}
	if maxBytes <= 0 {
		maxBytes = math.MaxInt
	}
	bp := c.scratch.Get().(*[]byte)
	defer c.scratch.Put(bp)

	seq, bytes := first, 0
	for left > 0 {
		pkt, n, why := c.copyOut((*bp)[:0], session, seq, left, maxBytes-bytes)
		*bp = pkt[:0] // keep a grown buffer
		if why != 0 {
			if sent == 0 || why == wire.RejectNotYetSent {
				return sent, why, nil
			}
			break
		}
		if n == 0 {
			break // the byte budget cannot hold the next message
		}
		if err := emit(pkt); err != nil {
			return sent, 0, err
		}
		sent += n
		seq += uint64(n)
		left -= uint64(n)
		bytes += len(pkt)
	}
	return sent, 0, nil
}

// copyOut appends to dst the packet holding seq, trimmed to at most left
// messages from seq within byteBudget bytes, and returns it with its message
// count, or the reason seq cannot be served.
func (c *Cache) copyOut(dst []byte, session, seq, left uint64, byteBudget int) ([]byte, uint32, wire.RejectReason) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch {
	case !c.hasSession || session != c.session:
		return dst, 0, wire.RejectUnknownSession
	case seq < c.first:
		return dst, 0, wire.RejectTooOld
	case seq >= c.next:
		return dst, 0, wire.RejectNotYetSent
	}
	s, ok := c.lookup(seq)
	if !ok {
		return dst, 0, wire.RejectTooOld
	}
	pkt := c.data[s.off : s.off+s.n]
	ps := c.seqOf(s)
	take := min(ps+c.countOf(s)-seq, left)

	if seq == ps && take == c.countOf(s) && len(pkt) <= byteBudget {
		dst = append(dst, pkt...) // the whole packet: no need to walk it
		return dst, uint32(take), 0
	}
	off := wire.HeaderLen
	for i := ps; i < seq; i++ {
		off += int(binary.LittleEndian.Uint16(pkt[off:]))
	}
	body, k := off, uint32(0)
	for uint64(k) < take {
		l := int(binary.LittleEndian.Uint16(pkt[off:]))
		if wire.HeaderLen+off+l-body > byteBudget {
			break
		}
		off += l
		k++
	}
	if k == 0 {
		return dst, 0, 0
	}
	dst = append(dst, pkt[:wire.HeaderLen]...)
	dst = append(dst, pkt[body:off]...)
	wire.SetSeq(dst, seq)
	wire.SetCount(dst, uint16(k))
	return dst, k, 0
}
