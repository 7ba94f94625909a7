package binance

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		exp  int8
		want int64
		err  error
	}{
		{"0.00240000", -8, 240000, nil},
		{"0.0024", -8, 240000, nil},
		{"4.00000200", -8, 400000200, nil},
		{"10", -8, 1_000_000_000, nil},
		{"10.", -8, 1_000_000_000, nil},
		{".5", -8, 50_000_000, nil},
		{"0", -8, 0, nil},
		{"-0", -8, 0, nil},
		{"+1.5", -2, 150, nil},
		{"-1.5", -2, -150, nil},
		{"000012.3400", -2, 1234, nil},
		{"12.340000000000000000000", -2, 1234, nil},
		{"12.345", -2, 0, ErrDecimalPrecision},
		{"0.000000001", -8, 0, ErrDecimalPrecision},
		{"0.000000010", -8, 1, nil},
		{"7", 0, 7, nil},
		{"7.0", 0, 7, nil},
		{"7.1", 0, 0, ErrDecimalPrecision},
		{"92233720368.54775807", -8, math.MaxInt64, nil},
		{"92233720368.54775808", -8, 0, ErrDecimalRange},
		{"-92233720368.54775808", -8, math.MinInt64, nil},
		{"-92233720368.54775809", -8, 0, ErrDecimalRange},
		{"92233720369", -8, 0, ErrDecimalRange},
		{"9223372036854775807", 0, math.MaxInt64, nil},
		{"9223372036854775808", 0, 0, ErrDecimalRange},
		{"99999999999999999999999", -1, 0, ErrDecimalRange},
		{"1", -18, 1_000_000_000_000_000_000, nil},
		{"10", -18, 0, ErrDecimalRange},
		{"", -8, 0, ErrDecimalSyntax},
		{"-", -8, 0, ErrDecimalSyntax},
		{".", -8, 0, ErrDecimalSyntax},
		{"+.", -8, 0, ErrDecimalSyntax},
		{"1.2.3", -8, 0, ErrDecimalSyntax},
		{"1e5", -8, 0, ErrDecimalSyntax},
		{" 1", -8, 0, ErrDecimalSyntax},
		{"1 ", -8, 0, ErrDecimalSyntax},
		{"--1", -8, 0, ErrDecimalSyntax},
		{"0x10", -8, 0, ErrDecimalSyntax},
		{"1,5", -8, 0, ErrDecimalSyntax},
		{"1.000000001x", -8, 0, ErrDecimalSyntax},
		{"1", 1, 0, ErrExponent},
		{"1", -19, 0, ErrExponent},
	} {
		got, err := ParseDecimal([]byte(tc.in), tc.exp)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseDecimal(%q, %d) = %d, %v; want %d, %v", tc.in, tc.exp, got, err, tc.want, tc.err)
		}
	}
}

func TestParseDecimalAllocs(t *testing.T) {
	in := []byte("61234.56780000")
	bad := []byte("1.000000001")
	if n := testing.AllocsPerRun(100, func() {
		_, _ = ParseDecimal(in, -8)
		_, _ = ParseDecimal(bad, -8)
	}); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

func BenchmarkParseDecimal(b *testing.B) {
	in := []byte("61234.56780000")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDecimal(in, -8); err != nil {
			b.Fatal(err)
		}
	}
}

var decimalGrammar = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$`)

// FuzzParseDecimal checks ParseDecimal against math/big: syntax errors exactly
// for inputs outside the grammar, and otherwise m × 10^exp equal to the input
// whenever it is an int64, precision or range errors exactly when it is not.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0.00240000", "10", "-1.5", ".5", "3.", "92233720368.54775808", "-92233720368.54775808", "0.000000001", "1e5", ""} {
		f.Add(s, int8(-8))
	}
	f.Add("12.345", int8(-2))
	f.Add("9223372036854775807", int8(0))
	f.Fuzz(func(t *testing.T, s string, exp int8) {
		got, err := ParseDecimal([]byte(s), exp)
		if exp > 0 || exp < MinExp {
			if err != ErrExponent {
				t.Fatalf("exp %d: err %v", exp, err)
			}
			return
		}
		if !decimalGrammar.MatchString(s) {
			if err != ErrDecimalSyntax {
				t.Fatalf("%q outside the grammar: %d, %v", s, got, err)
			}
			return
		}
		if err == ErrDecimalSyntax {
			t.Fatalf("%q in the grammar: syntax error", s)
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat rejects %q", s)
		}
		scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-exp)), nil)))
		switch {
		case !scaled.IsInt():
			if err != ErrDecimalPrecision && err != ErrDecimalRange {
				t.Fatalf("%q exp %d is not a mantissa, got %d, %v", s, exp, got, err)
			}
		case !scaled.Num().IsInt64():
			if err != ErrDecimalRange {
				t.Fatalf("%q exp %d overflows, got %d, %v", s, exp, got, err)
			}
		default:
			if err != nil || got != scaled.Num().Int64() {
				t.Fatalf("%q exp %d = %d, %v; want %v", s, exp, got, err, scaled.Num())
			}
		}
	})
}
