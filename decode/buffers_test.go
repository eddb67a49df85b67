package decode

import (
	"bytes"
	"testing"
)

// TestGrow checks how buffers grow: within their limit, keeping their
// bytes, from the pool of large buffers past retainMax and in its classes
// only where the class fits the limit.
func TestGrow(t *testing.T) {
	tests := []struct {
		name     string
		steps    []int // bytes appended, one grow each
		limit    int
		wantCaps []int // capacity after each step
	}{
		{"small, doubling", []int{10, 600, 500}, 1 << 20, []int{512, 1024, 2048}},
		{"capped by a small limit", []int{100, 50}, 150, []int{150, 150}},
		{"past retainMax: pool classes", []int{16 << 10, 1, 40 << 10}, 1 << 20, []int{16 << 10, 32 << 10, 64 << 10}},
		{"class larger than the limit: exact", []int{16 << 10, 1}, 20 << 10, []int{16 << 10, 20 << 10}},
		{"one large step", []int{5 << 20}, 16 << 20, []int{8 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b, want []byte
			for i, n := range tt.steps {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				b = grow(b, n, tt.limit)
				b = append(b, p...)
				want = append(want, p...)
				if cap(b) != tt.wantCaps[i] || cap(b) > tt.limit {
					t.Errorf("step %d: cap %d, want %d (limit %d)", i, cap(b), tt.wantCaps[i], tt.limit)
				}
			}
			if !bytes.Equal(b, want) {
				t.Error("bytes lost while growing")
			}
			if r := reuse(b); cap(b) > retainMax && r != nil || cap(b) <= retainMax && cap(r) != cap(b) {
				t.Errorf("reuse of cap %d kept cap %d", cap(b), cap(r))
			}
		})
	}
}

// TestGrowAllocs checks that a stream which keeps carrying 64 KiB messages
// reuses pooled buffers instead of allocating one per message.
func TestGrowAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops values at random")
	}
	p := make([]byte, 64<<10)
	var b []byte
	msg := func() {
		b = grow(b, len(p), 1<<20)
		b = append(b, p...)
		b = reuse(b)
	}
	msg()
	if n := testing.AllocsPerRun(100, msg); n != 0 {
		t.Errorf("%v allocations per 64 KiB message, want 0", n)
	}
}
