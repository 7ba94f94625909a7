// Package instrument indexes per-instrument state by instrument id, for the
// publisher's and the subscriber's books alike: a slice for the small dense
// ids sources assign (1, 2, …), a map for anything larger, and the entries in
// order of first appearance for iteration.
package instrument
