package profile

import (
	"fmt"
	"math"
	"strconv"
)

// Byte-size units, as sandlock's ByteSize counts them (binary: K = 1024).
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

// ParseSize parses a sandlock byte size: decimal digits, optionally followed
// by one suffix K, M or G (1024-based; sandlock also takes k, m, g). Plain
// digits are bytes. This is sandlock 0.8.6's ByteSize::parse, minus the
// leniencies that only hide mistakes: no spaces, no sign, no fraction, and a
// value that does not fit in int64 is an error rather than a wrapped number.
// "512MiB", "512MB", "-1M", "1.5G" and "" are all rejected.
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty byte size")
	}
	digits, mult := s, int64(1)
	switch s[len(s)-1] {
	case 'K', 'k':
		digits, mult = s[:len(s)-1], KiB
	case 'M', 'm':
		digits, mult = s[:len(s)-1], MiB
	case 'G', 'g':
		digits, mult = s[:len(s)-1], GiB
	}
	if digits == "" {
		return 0, sizeError(s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, sizeError(s)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("byte size %q is too large", s)
	}
	return n * mult, nil
}

func sizeError(s string) error {
	return fmt.Errorf("%q is not a byte size: want digits with an optional suffix K, M or G, e.g. \"512M\" (IEC suffixes like MiB, signs and fractions are not accepted)", s)
}

// FormatSize writes n bytes as a sandlock byte size, rounded UP so that a
// limit never ends below the measured value: below 1 MiB in whole K, from
// 1 MiB in whole M, and in G when that is exact. FormatSize(1) is "1K",
// FormatSize(48*MiB+1) is "49M", FormatSize(2*GiB) is "2G". Zero or less is
// "0".
func FormatSize(n int64) string {
	switch {
	case n <= 0:
		return "0"
	case n <= MiB:
		k := ceilDiv(n, KiB)
		if k == 1024 {
			return "1M"
		}
		return strconv.FormatInt(k, 10) + "K"
	}
	m := ceilDiv(n, MiB)
	if m%1024 == 0 {
		return strconv.FormatInt(m/1024, 10) + "G"
	}
	return strconv.FormatInt(m, 10) + "M"
}

func ceilDiv(n, d int64) int64 {
	q := n / d
	if n%d != 0 {
		q++
	}
	return q
}
