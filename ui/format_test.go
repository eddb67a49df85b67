package ui

import "testing"

// TestCount: message counts fit the connections table's MSG column, both
// ways, whatever their size.
func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "0"}, {9999, "9999"}, {10_000, "10.0k"}, {14_835, "14.8k"}, {99_949, "99.9k"},
		{99_950, "100k"}, {148_000, "148k"}, {999_499, "999k"}, {999_500, "1.0M"}, {1_540_000, "1.5M"},
		{99_949_999, "99.9M"}, {99_950_000, "100M"}, {999_499_999, "999M"}, {999_500_000, "1.0G"}, {2_147_483_647, "2.1G"},
	} {
		if got := count(tc.n); got != tc.want {
			t.Errorf("count(%d) = %q, want %q", tc.n, got, tc.want)
		}
		if cell := count(tc.n) + "↑ " + count(tc.n) + "↓"; len([]rune(cell)) > connSpecsBy[6].max {
			t.Errorf("MSG cell %q is wider than the column's %d", cell, connSpecsBy[6].max)
		}
	}
}
