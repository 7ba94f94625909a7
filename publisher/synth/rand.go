package synth

import "math/bits"

// rng is wyrand: a fast, well-mixed 64-bit generator whose output depends only
// on its seed, so a seed fixes the whole message stream.
type rng struct{ s uint64 }

// next returns 64 random bits.
func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a number in [0, n) for n > 0 (Lemire's multiply-shift; the bias
// is below 2^-40 for the small n used here).
func (r *rng) intn(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}
