package binance

import (
	"fmt"
	"slices"
	"testing"
)

func queued(q *eventQueue) []string {
	var out []string
	q.each(func(first, final uint64, msgs []byte) bool {
		out = append(out, fmt.Sprintf("%d-%d:%s", first, final, msgs))
		return true
	})
	return out
}

func TestEventQueue(t *testing.T) {
	var q eventQueue
	q.push(10, 12, []byte("a"))
	q.push(13, 13, []byte("b"))
	q.push(11, 12, []byte("dup")) // covered already
	q.push(12, 15, []byte("c"))   // overlaps: still contiguous
	if got, want := queued(&q), []string{"10-12:a", "13-13:b", "12-15:c"}; !slices.Equal(got, want) {
		t.Fatalf("queue %v, want %v", got, want)
	}
	q.dropThrough(13)
	if got, want := queued(&q), []string{"12-15:c"}; !slices.Equal(got, want) {
		t.Fatalf("after dropThrough(13): %v, want %v", got, want)
	}
	if f, ok := q.first(); !ok || f != 12 {
		t.Fatalf("first = %d, %v", f, ok)
	}
	q.push(17, 18, []byte("d")) // gap after 15: restart
	if got, want := queued(&q), []string{"17-18:d"}; !slices.Equal(got, want) {
		t.Fatalf("after a gap: %v, want %v", got, want)
	}
	q.dropThrough(100)
	if q.len() != 0 {
		t.Fatal("not empty")
	}
	q.push(101, 101, []byte("e"))
	if got, want := queued(&q), []string{"101-101:e"}; !slices.Equal(got, want) {
		t.Fatalf("after emptying: %v, want %v", got, want)
	}
}
