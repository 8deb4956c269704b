package profile

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0":           0,
		"1":           1,
		"4096":        4096,
		"1K":          1024,
		"1k":          1024,
		"48M":         48 << 20,
		"512m":        512 << 20,
		"2G":          2 << 30,
		"0010M":       10 << 20,
		"8589934591G": 8589934591 << 30,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := []string{"", "M", "512MiB", "512MB", "512B", "-1M", "+1M", "1.5G", " 1M", "1M ", "1 M", "1T", "0x10", "1_000", "٣M", "8589934592G", "99999999999999999999"}
	for _, in := range bad {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestFormatSize(t *testing.T) {
	cases := []struct {
		n    int64
		want string
	}{
		{-5, "0"}, {0, "0"}, {1, "1K"}, {1024, "1K"}, {1025, "2K"},
		{MiB - 1, "1M"}, {MiB, "1M"}, {MiB + 1, "2M"}, {48*MiB + 1, "49M"},
		{GiB, "1G"}, {GiB + 1, "1025M"}, {2 * GiB, "2G"}, {3*GiB + 1, "3073M"},
		{8589934591 * GiB, "8589934591G"},
	}
	for _, c := range cases {
		got := FormatSize(c.n)
		if got != c.want {
			t.Errorf("FormatSize(%d) = %q, want %q", c.n, got, c.want)
		}
		if c.n <= 0 {
			continue
		}
		// Rounded up: never below the value, and it parses back.
		back, err := ParseSize(got)
		if err != nil || back < c.n {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v; want >= %d", c.n, back, err, c.n)
		}
	}
}
