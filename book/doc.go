// Package book is tickcast's price-level order book (DESIGN.md, "Market
// messages": LevelUpdate, BookClear and BookChecksum).
//
// A [Book] holds, per side, the absolute quantity at each price level, exactly
// as LevelUpdate messages carry it: [Book.Apply] sets a level, and a quantity
// of 0 removes it. The publisher keeps one book per instrument to send
// BookChecksums and snapshots; the subscriber rebuilds the same book from the
// feed and compares [Book.Checksum] with the publisher's.
//
// Prices and quantities are the wire's fixed-point int64 mantissas; their
// exponents come from the instrument definition and do not matter here. The
// book does not judge its contents: a crossed or locked book, or a negative
// quantity, is stored as given.
//
// One goroutine owns each book; there are no locks. Updates near the top of
// the book, where nearly all market-data traffic lands, cost a short scan and a
// short memmove, and nothing allocates once the book has reached its depth.
package book
