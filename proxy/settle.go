package proxy

import (
	"runtime/debug"
	"time"
)

// settleTick is how often settle looks at the connections accepted.
const settleTick = time.Second

// settle runs while the proxy serves. Once connections stop arriving
// (none accepted for a settleTick) after some did, it has the garbage
// collector run once and give the memory it freed back to the system.
// Without it, a burst of connections that then stay open and idle leaves
// the process at its peak (issue 15: what an idle WebSocket costs): the
// garbage of their handshakes is collected only when the heap doubles
// again or after two minutes, and the stacks their goroutines grew while
// dialing and decoding the handshake shrink only at a collection (to half
// at each). One collection per burst, not per connection: a steady
// stream of connections keeps the collector's usual pace.
func (p *Proxy) settle() {
	t := time.NewTicker(settleTick)
	defer t.Stop()
	var last, settled uint64
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		n := p.nextID.Load()
		if n == last && n != settled {
			debug.FreeOSMemory()
			settled = n
		}
		last = n
	}
}
