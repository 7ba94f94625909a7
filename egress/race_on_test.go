//go:build race

package egress_test

// raceEnabled: under the race detector the sockets' sync.Pool drops items at
// random, so allocation counts are not meaningful.
const raceEnabled = true
