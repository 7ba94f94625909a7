// Package instrument indexes per-instrument state by instrument id, for the
// feed state (package feed) every role keeps: a slice for the small dense
// ids sources assign (1, 2, …), a map for anything larger, and the entries in
// order of first appearance for iteration.
package instrument
