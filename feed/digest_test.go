package feed_test

import (
	"testing"

	"github.com/tickcast/tickcast/feed"
)

func TestDigestRoundTripAndOrder(t *testing.T) {
	s := build(randomFeed(3, 3000))
	d := feed.NewDigest(s.Sums(), 3000)
	if d.Instruments != len(s.Sums()) || d.Instruments == 0 || d.Seq != 3000 {
		t.Fatalf("digest %+v", d)
	}
	got, ok := feed.ParseDigest("  " + d.String() + "\n")
	if !ok || got != d || !got.Equal(d) {
		t.Fatalf("ParseDigest(%q) = %+v, %v", d.String(), got, ok)
	}
	// The same sums in another map (another iteration order) digest alike.
	again := map[uint32]uint32{}
	for id, sum := range s.Sums() {
		again[id] = sum
	}
	if feed.NewDigest(again, 3000) != d {
		t.Fatal("digest depends on map order")
	}
	for name, other := range map[string]map[uint32]uint32{
		"one book changed": func() map[uint32]uint32 {
			m := s.Sums()
			for id := range m {
				m[id] ^= 1
				break
			}
			return m
		}(),
		"one book missing": func() map[uint32]uint32 {
			m := s.Sums()
			for id := range m {
				delete(m, id)
				break
			}
			return m
		}(),
	} {
		if feed.NewDigest(other, 3000).Equal(d) {
			t.Errorf("%s: digests equal", name)
		}
	}
	if feed.NewDigest(s.Sums(), 2999).Equal(d) {
		t.Error("another sequence: digests equal")
	}
	rec := d
	rec.Recovering = true
	if got, ok := feed.ParseDigest(rec.String()); !ok || !got.Recovering || got.Equal(d) {
		t.Errorf("recovering: %+v, %v", got, ok)
	}
	for _, bad := range []string{"", "books:", "books: x instruments, crc32c 0 at sequence 1", "published 3 messages"} {
		if _, ok := feed.ParseDigest(bad); ok {
			t.Errorf("ParseDigest(%q) ok", bad)
		}
	}
}
