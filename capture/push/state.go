package push

import (
	"slices"
	"time"
)

// What a Summary keeps of an open connection's exchanges, and the samples
// of its medians.

// take removes and returns the pending request seq on stream; with keep
// set (an interim response) it stays pending.
func (c *connState) take(seq int, stream uint32, keep bool) (exchange, bool) {
	for i, x := range c.pending {
		if x.seq == seq && x.stream == stream {
			if !keep {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
			}
			return x, true
		}
	}
	return exchange{}, false
}

func (c *connState) addPending(seq int, stream uint32, n int64) {
	for i := range c.pending {
		if x := &c.pending[i]; x.seq == seq && x.stream == stream {
			x.wire += n
		}
	}
}

func (c *connState) stream(seq int, stream uint32) *exchange {
	for i := range c.streams {
		if x := &c.streams[i]; x.seq == seq && x.stream == stream {
			return x
		}
	}
	return nil
}

func (c *connState) endStream(seq int, stream uint32) {
	for i, x := range c.streams {
		if x.seq == seq && x.stream == stream {
			c.streams = append(c.streams[:i], c.streams[i+1:]...)
			return
		}
	}
}

func (c *connState) h2Bytes(stream uint32, n int64) {
	if c.h2 == nil {
		c.h2 = make(map[uint32]int64)
	}
	if _, ok := c.h2[stream]; !ok && len(c.h2) >= maxH2Streams {
		return
	}
	c.h2[stream] += n
}

// samples keeps the latest maxSamples durations for a median.
type samples struct {
	v    []time.Duration
	next int
}

func (s *samples) add(d time.Duration) {
	if len(s.v) < maxSamples {
		s.v = append(s.v, d)
		return
	}
	s.v[s.next] = d
	s.next = (s.next + 1) % maxSamples
}

func (s *samples) median() time.Duration {
	if len(s.v) == 0 {
		return 0
	}
	v := slices.Clone(s.v)
	slices.Sort(v)
	return v[len(v)/2]
}
