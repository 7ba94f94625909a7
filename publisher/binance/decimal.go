package binance

import (
	"errors"
	"math"
)

// Decimal parsing errors. They are sentinels, so a failed parse does not allocate.
var (
	// ErrDecimalSyntax: not an optionally signed decimal number with at least
	// one digit ("12", "-0.5", "3.", ".25"; no exponent, spaces or other characters).
	ErrDecimalSyntax = errors.New("binance: malformed decimal")
	// ErrDecimalPrecision: non-zero digits beyond the exponent's precision.
	ErrDecimalPrecision = errors.New("binance: more decimals than the exponent allows")
	// ErrDecimalRange: the mantissa does not fit in an int64.
	ErrDecimalRange = errors.New("binance: decimal out of int64 range")
	// ErrExponent: an exponent outside [MinExp, 0].
	ErrExponent = errors.New("binance: exponent out of range")
)

// MinExp is the smallest exponent [ParseDecimal] accepts: 10^18 is the largest
// power of ten that fits in an int64.
const MinExp = -18

// ParseDecimal converts the decimal string s to the fixed-point mantissa m with
// m × 10^exp == s exactly (DESIGN.md, "Wire format v1": no floats anywhere on
// the wire). With exp -8, "0.00240000" and "0.0024" are 240000 and "10" is
// 1000000000. Trailing zeros beyond the precision are fine; a non-zero digit
// beyond it is [ErrDecimalPrecision]. A leading sign, leading zeros, a missing
// fraction ("10") or a missing integer part (".5") are accepted; anything else
// is [ErrDecimalSyntax]. exp must be in [MinExp, 0].
//
// ParseDecimal does not allocate: it runs for every price and quantity of
// every depth event.
func ParseDecimal(s []byte, exp int8) (int64, error) {
	if exp > 0 || exp < MinExp {
		return 0, ErrExponent
	}
	scale := int(-exp)
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		i = 1
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -2^63 is representable
	}
	// Scan to the end before judging, so that a syntax error wins over the
	// others.
	var m uint64
	digits, over := 0, false
	for ; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			break
		}
		digits++
		if over = over || m > (limit-uint64(d))/10; !over {
			m = m*10 + uint64(d)
		}
	}
	frac, lost := 0, false
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s); i++ {
			d := s[i] - '0'
			if d > 9 {
				break
			}
			digits++
			if frac == scale {
				lost = lost || d != 0
				continue
			}
			if over = over || m > (limit-uint64(d))/10; !over {
				m = m*10 + uint64(d)
			}
			frac++
		}
	}
	switch {
	case i != len(s) || digits == 0:
		return 0, ErrDecimalSyntax
	case over:
		return 0, ErrDecimalRange
	case lost:
		return 0, ErrDecimalPrecision
	}
	for ; frac < scale; frac++ {
		if m > limit/10 {
			return 0, ErrDecimalRange
		}
		m *= 10
	}
	if neg {
		return int64(^m + 1), nil // two's complement: also right for 2^63
	}
	return int64(m), nil
}
