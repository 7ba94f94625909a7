// Package binancetest is an in-process Binance spot market-data server for
// tests: an httptest.Server that serves the REST depth snapshot
// (GET /api/v3/depth) and the combined WebSocket stream
// (/stream?streams=a/b/c) in Binance's exact formats (BINANCE.md), over a
// simulated order book per symbol that evolves randomly from a deterministic
// seed.
//
// Every Interval, each symbol's book changes a few levels (sometimes removing a
// level that is not there, as Binance does) and one diff-depth event carrying
// update ids U..u goes to every connection subscribed to the symbol's depth
// stream; sometimes a trade follows on its trade stream.
//
// A client may change a connection's streams with Binance's live
// SUBSCRIBE and UNSUBSCRIBE requests (and LIST_SUBSCRIPTIONS), answered in
// Binance's format ({"result":null,"id":N}, or {"code":2,"msg":…,"id":N}
// for a bad request); GET /api/v3/exchangeInfo lists the symbols.
//
// It misbehaves on command, to test a client's recovery: [Server.DropConnections],
// [Server.SkipUpdate] (a gap in update ids), [Server.SendMalformed],
// [Server.Stall] (a silent symbol), [Server.Ping] (and [Server.Pongs] to see
// the answers), [Server.FailSnapshots] (HTTP 500/429) and
// [Server.NonBridgingSnapshot]. [Server.Book] exposes a symbol's book so tests
// can compare it with the one a client rebuilt; [Server.Pause] makes the books
// hold still for that.
package binancetest
