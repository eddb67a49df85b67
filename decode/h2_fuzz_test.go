package decode

import (
	"fmt"
	"testing"
)

// FuzzH2 feeds arbitrary client and server bytes to an h2Conn, interleaved
// and split arbitrarily, and checks that nothing panics, that what the
// connection keeps stays within its bounds after every chunk (h2CheckBounds)
// and is all given back once both sides end, and that feeding the same
// bytes one at a time reports the same events.
func FuzzH2(f *testing.F) {
	for _, set := range [][]struct {
		name  string
		build func(testing.TB) h2Fixture
	}{h2Fixtures, h2BadFixtures} {
		for _, fx := range set {
			client, server, ops := h2FuzzInput(fx.build(f))
			if len(client)+len(server) > 8<<10 {
				continue // minimizing those takes the fuzzer minutes
			}
			f.Add(client, server, ops, uint8(0))
			f.Add(client, server, ops, uint8(0x16))
		}
	}
	f.Add([]byte(h2Preface), []byte{0, 0, 0, 4, 0, 0, 0, 0, 0}, []byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, client, server, ops []byte, mode uint8) {
		whole := fuzzH2(t, client, server, ops, mode, false)
		if bytewise := fuzzH2(t, client, server, ops, mode, true); bytewise != whole {
			t.Errorf("fed one byte at a time:\n%s\nfed in pieces:\n%s", bytewise, whole)
		}
	})
}

// h2FuzzInput turns a fixture into FuzzH2's arguments.
func h2FuzzInput(fx h2Fixture) (client, server, ops []byte) {
	for _, sg := range fx.segs {
		if sg.end {
			ops = append(ops, byte(sg.side))
			continue
		}
		for p := sg.b; len(p) > 0; {
			k := min(len(p), 127)
			ops = append(ops, byte(k<<1)|byte(sg.side))
			p = p[k:]
		}
		if sg.side == Client {
			client = append(client, sg.b...)
		} else {
			server = append(server, sg.b...)
		}
	}
	return client, server, ops
}

// fuzzH2 runs one FuzzH2 input: ops are pieces, each naming a side (low
// bit) and a length (the rest; 0 ends the side). Bit 0 of mode starts as
// an h2c upgrade, bit 1 ends the server first, bits 2-3 pick MaxHead, the
// rest MaxBody.
func fuzzH2(t *testing.T, client, server, ops []byte, mode uint8, bytewise bool) string {
	cfg := Config{MaxHead: [4]int{256, 1024, 4096, 0}[mode>>2&3], MaxBody: int(mode>>4) - 2}
	var st h2Start
	if mode&1 != 0 {
		st = h2Start{seq: 1, upgrade: true, settings: "AAEAAAEA"}
	}
	r := &h2Recorder{maxBody: max(cfg.maxBody(), 0)}
	c := newH2Conn(cfg, r, st)
	in := [2][]byte{client, server}
	feed := func(side Side, p []byte) {
		for len(p) > 0 {
			q := p
			if bytewise {
				q = p[:1]
			}
			p = p[len(q):]
			c.feed(side, q)
			h2CheckBounds(t, c)
		}
	}
	for _, op := range ops {
		side, k := Side(op&1), int(op>>1)
		if k == 0 {
			c.end(side)
			continue
		}
		k = min(k, len(in[side]))
		feed(side, in[side][:k])
		in[side] = in[side][k:]
	}
	feed(Client, in[Client])
	feed(Server, in[Server])
	if mode&2 != 0 {
		c.end(Server)
		c.end(Client)
	} else {
		c.end(Client)
		c.end(Server)
	}
	if c.kept != 0 || len(c.streams) != 0 || c.wsOpen != 0 {
		t.Errorf("after both ends: kept %d bytes, %d streams, %d WebSocket streams", c.kept, len(c.streams), c.wsOpen)
	}
	for _, b := range r.bad {
		t.Error(b)
	}
	fmt.Fprintf(&r.b, "%+v\n", c.stats())
	return r.b.String()
}
