package relay

import (
	"sync"
	"time"

	"github.com/tickcast/tickcast/wire"
)

// staleSlots bounds the upstream answers a relay keeps for the NACKs it
// forwarded: a few hundred packets, the size of one deep repair.
const staleSlots = 512

// staleStore keeps the upstream's answers to NACKs the relay forwarded
// because its own cache no longer held the range (a retransmit cache only
// grows at its head, so they cannot go back into it), and remembers which
// ranges were asked, so that many downstreams asking for the same range
// cause one request upstream. Safe for concurrent use.
type staleStore struct {
	mu    sync.Mutex
	slots [staleSlots]stalePacket
	next  int // the slot written next (a ring: the oldest is overwritten)
	asked map[staleKey]time.Time
}

type staleKey struct{ session, first uint64 }

type stalePacket struct {
	session, first, end uint64 // end: one past the last sequence
	b                   []byte
}

func (s *staleStore) init() { s.asked = map[staleKey]time.Time{} }

// put copies an upstream retransmission in and reports whether it was one.
func (s *staleStore) put(p wire.Packet) bool {
	if !p.Sequenced() || p.Count == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := &s.slots[s.next]
	s.next = (s.next + 1) % staleSlots
	sl.session, sl.first, sl.end = p.Session, p.Seq, p.End()
	sl.b = append(sl.b[:0], p.Bytes()...)
	return true
}

// covers reports whether the held answers cover [first, end) without a
// hole.
func (s *staleStore) covers(session, first, end uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := first
	for next < end {
		found := false
		for i := range s.slots {
			sl := &s.slots[i]
			if sl.session == session && sl.first <= next && next < sl.end {
				next, found = sl.end, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// claim reports whether the caller is the one to ask upstream for the range
// starting at first: nobody asked in the last nackWait.
func (s *staleStore) claim(session, first uint64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.asked {
		if now.Sub(t) > nackWait {
			delete(s.asked, k)
		}
	}
	k := staleKey{session, first}
	if _, ok := s.asked[k]; ok {
		return false
	}
	s.asked[k] = now
	return true
}

// serve emits, in sequence order, the held answers continuing the range
// from first, within the caps, and returns the number of messages they
// start the range with.
func (s *staleStore) serve(session, first uint64, count uint32, maxMsgs, maxBytes int, emit func([]byte) error) (uint32, error) {
	var (
		next  = first
		end   = first + uint64(count)
		msgs  int
		bytes int
		buf   []byte
	)
	for next < end && msgs < maxMsgs {
		s.mu.Lock()
		found := false
		for i := range s.slots {
			sl := &s.slots[i]
			if sl.session == session && sl.first <= next && next < sl.end {
				if bytes+len(sl.b) > maxBytes && msgs > 0 {
					break
				}
				buf = append(buf[:0], sl.b...)
				msgs += int(sl.end - next)
				bytes += len(sl.b)
				next = sl.end
				found = true
				break
			}
		}
		s.mu.Unlock()
		if !found {
			break
		}
		if err := emit(buf); err != nil {
			return uint32(next - first), err
		}
	}
	return uint32(min(next, end) - first), nil
}
