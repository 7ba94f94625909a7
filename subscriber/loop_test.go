package subscriber

import (
	"slices"
	"testing"

	"github.com/tickcast/tickcast/internal/testwait"
)

// The recovery loop (package recovery): a subscriber without a link becomes
// whole from the loop's groups, and leaves them.

func TestLateJoinFromTheRecoveryLoop(t *testing.T) {
	f := startFeed(t, feedOpts{loop: true, instruments: 12})
	f.run()
	testwait.For(t, "the publisher to be well under way", func() bool { return f.pub.Stats().Messages > 20000 })
	rec := newRecorder()
	// Loss on the recovery groups too: a book that lost a packet is
	// dropped by its checksum and taken from the other group, or next turn.
	r := startSub(t, f.loopConfig(rec, "", "", "drop=0.1,seed=3"))
	testwait.For(t, "every book from the loop", func() bool {
		st := r.sub.Stats()
		return !st.Recovering && st.Loop.Books >= 12
	})
	testwait.For(t, "the recovery groups to be left", func() bool { return !r.sub.Stats().Loop.Joined })
	testwait.For(t, "a checksum verified after the recovery", func() bool { return r.sub.Stats().ChecksumChecks > 0 })
	booksMatch(t, f, r)
	st := r.sub.Stats()
	if st.Loop.Joins != 1 || st.ChecksumMismatches != 0 || !slices.Equal(rec.resetReasons(), []ResetReason{ResetLateJoin}) {
		t.Fatalf("joins %d, mismatches %d, resets %v", st.Loop.Joins, st.ChecksumMismatches, rec.resetReasons())
	}
	if rec.count(EventRecovered) != 1 || rec.count(EventSnapshotBook) < 12 {
		t.Fatalf("recovered %d, books announced %d", rec.count(EventRecovered), rec.count(EventSnapshotBook))
	}
}

func TestLostGapRecoveredFromTheLoop(t *testing.T) {
	f := startFeed(t, feedOpts{loop: true, instruments: 8})
	rec := newRecorder()
	// No retransmit server: a packet lost on both lines is lost for good.
	r := startSub(t, f.loopConfig(rec, "drop=0.03,seed=5", "drop=0.03,seed=6", ""))
	f.run()
	testwait.For(t, "a gap lost for good, recovered from the loop", func() bool {
		st := r.sub.Stats()
		return st.LostMessages > 0 && st.Loop.Books > 0
	})
	booksMatch(t, f, r)
	if !slices.Contains(rec.resetReasons(), ResetGap) {
		t.Fatalf("resets %v, want an unrecoverable gap", rec.resetReasons())
	}
}
