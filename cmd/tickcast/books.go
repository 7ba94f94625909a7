package main

import (
	"context"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/publisher"
	"github.com/tickcast/tickcast/subscriber"
)

// publisherBooks is the line publish prints after its session ended: every
// book digested at the last sequence (feed.Digest), for a comparison with
// the subscribers' lines by another process (deploy/lab).
func publisherBooks(pub *publisher.Publisher) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sums, seq, err := pub.BookChecksums(ctx)
	if err != nil {
		return "books: unavailable: " + err.Error()
	}
	return feed.NewDigest(sums, seq).String()
}

// subscriberBooks is the line subscribe --stats prints at exit, as
// publisherBooks for the subscriber's books.
func subscriberBooks(sub *subscriber.Subscriber) string {
	sums, err := sub.BookSums(context.Background())
	if err != nil {
		return "books: unavailable: " + err.Error()
	}
	d := feed.NewDigest(sums.Sums, sums.Seq)
	d.Recovering = sums.Recovering
	return d.String()
}
