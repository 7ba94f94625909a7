// Package testnet gives tests their own corner of the loopback network
// (DESIGN.md, "Testing on one machine"): a distinct multicast group in
// 239.0.0.0/8 per call, so tests in parallel packages never see each other's
// traffic, and receivers bound to a free port on lo.
package testnet
