package push

// How a Summary counts the connections of each row (Row.Conns): each
// connection once per row it contributed to, however its events
// interleave with other connections' and however many of the row's paths
// it asked for.
//
// The rows of pushing mechanisms (long-polling, SSE, streaming, WebSocket,
// Socket.IO) are known when an exchange is counted: a connection remembers
// the rows it was counted in. The polling and none rows are not: a method
// and path on a host is none until its minPolls-th exchange, then polling,
// and all of its exchanges, earlier ones included, move with it. So while
// a path is none it keeps the connections that asked for it (at most
// minPolls-1 of them) and, when it turns to polling, moves them over; a
// connection leaves the host's none row when none of the paths it asked
// for is none any longer.

// hostPolls is one connection's part in one host's none and polling rows.
// It outlives its connection while a path that is still none holds it.
type hostPolls struct {
	none    int  // the host's none paths this connection asked for
	polling bool // counted in the host's polling row
}

// counted says whether c was counted in row k yet, and notes that it is.
func (c *connState) counted(k rowKey) bool {
	for _, r := range c.rows {
		if r == k {
			return true
		}
	}
	c.rows = append(c.rows, k)
	return false
}

// pollsOn returns c's part in host's none and polling rows.
func (c *connState) pollsOn(host string) *hostPolls {
	if c.polls == nil {
		c.polls = make(map[string]*hostPolls)
	}
	hp := c.polls[host]
	if hp == nil {
		hp = &hostPolls{}
		c.polls[host] = hp
	}
	return hp
}

// countPoll counts c's exchange on the path p of host, which has just been
// added to p's Polls.
func (s *Summary) countPoll(c *connState, host string, p *pollState) {
	hp := c.pollsOn(host)
	minPolls := s.cfg.minPolls()
	if p.Polls < minPolls { // none still
		for _, m := range p.askers {
			if m == hp {
				return
			}
		}
		p.askers = append(p.askers, hp)
		hp.none++
		if hp.none == 1 {
			s.pollConns[rowKey{host, None}]++
		}
		return
	}
	if p.Polls == minPolls { // it turns to polling now, with its askers
		for _, m := range p.askers {
			m.none--
			if m.none == 0 {
				s.pollConns[rowKey{host, None}]--
			}
			s.countPolling(host, m)
		}
		p.askers = nil
	}
	s.countPolling(host, hp)
}

// countPolling counts hp's connection in host's polling row, once.
func (s *Summary) countPolling(host string, hp *hostPolls) {
	if !hp.polling {
		hp.polling = true
		s.pollConns[rowKey{host, Polling}]++
	}
}
