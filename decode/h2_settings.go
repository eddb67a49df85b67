package decode

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http2"
)

// The SETTINGS each side sent (RFC 9113 section 6.5), followed in wire
// order: they bound the frames and the HPACK tables of the other side.

// limit returns the settings of side that the other side may already
// use: where side sent SETTINGS that are not acknowledged yet, the larger
// of the old and new values, since frames and header blocks in flight may
// follow either (RFC 9113 section 6.5.3).
func (c *h2Conn) limit(side Side) h2Settings {
	l := c.set[side]
	for _, p := range c.pend[side][:c.npend[side]] {
		l.table = max(l.table, p.table)
		l.frame = max(l.frame, p.frame)
	}
	return l
}

// syncTable lets the HPACK decoder of the header blocks side's peer sends
// accept dynamic table size updates up to side's SETTINGS_HEADER_TABLE_SIZE
// (RFC 7541 section 4.2, RFC 9113 section 6.5.2).
func (c *h2Conn) syncTable(side Side) {
	c.dir[side.Other()].dec.SetAllowedMaxDynamicTableSize(c.limit(side).table)
}

// settingsFrame records the SETTINGS side sent; they apply once the other
// side acknowledges them.
func (c *h2Conn) settingsFrame(side Side, list []H2Setting) {
	s := c.set[side]
	if n := c.npend[side]; n > 0 {
		s = c.pend[side][n-1]
	}
	s = c.applySettings(side, s, list)
	if c.npend[side] == h2PendMax {
		c.set[side] = c.pend[side][0]
		c.shiftPending(side)
		c.report(side, h2kSettingsFlood, 0, fmt.Sprintf("more than %d SETTINGS frames not acknowledged: the oldest is taken as acknowledged", h2PendMax))
	}
	c.pend[side][c.npend[side]] = s
	c.npend[side]++
	c.syncTable(side)
}

// ack applies the oldest SETTINGS of the side that the ACK's sender
// (from) acknowledges (RFC 9113 section 6.5.3).
func (c *h2Conn) ack(from Side) {
	side := from.Other()
	if c.npend[side] == 0 {
		c.report(from, h2kSettingsAck, 0, "SETTINGS ACK with no SETTINGS to acknowledge (RFC 9113 section 6.5.3)")
		return
	}
	c.set[side] = c.pend[side][0]
	c.shiftPending(side)
	c.syncTable(side)
}

func (c *h2Conn) shiftPending(side Side) {
	n := c.npend[side]
	copy(c.pend[side][:n-1], c.pend[side][1:n])
	c.npend[side] = n - 1
}

// applySettings returns s updated by list, reporting values that RFC 9113
// section 6.5.2 does not allow (those are not applied).
func (c *h2Conn) applySettings(side Side, s h2Settings, list []H2Setting) h2Settings {
	for _, st := range list {
		if err := (http2.Setting{ID: http2.SettingID(st.ID), Val: st.Value}).Valid(); err != nil {
			if c.once(side, h2kSettingValue) {
				c.reportNow(side, h2kSettingValue, 0, fmt.Sprintf("SETTINGS: %s = %d is not allowed (RFC 9113 section 6.5.2)", st.Name(), st.Value))
			}
			continue
		}
		switch http2.SettingID(st.ID) {
		case http2.SettingHeaderTableSize:
			s.table = min(st.Value, h2TableMax)
			if st.Value > h2TableMax && c.once(side, h2kTableSize) {
				c.reportNow(side, h2kTableSize, 0, fmt.Sprintf("SETTINGS_HEADER_TABLE_SIZE of %d: frametap decodes HPACK with tables of at most %d bytes, header blocks that need more are not decoded", st.Value, h2TableMax))
			}
		case http2.SettingMaxFrameSize:
			s.frame = st.Value
		}
	}
	return s
}

// h2DecodeSettings decodes an HTTP2-Settings field: a SETTINGS payload in
// base64url without padding (RFC 7540 section 3.2.1); padding is
// tolerated.
func h2DecodeSettings(v string) ([]H2Setting, error) {
	p, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(v), "="))
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	if len(p)%6 != 0 {
		return nil, errors.New("length not a multiple of 6")
	}
	list := make([]H2Setting, 0, len(p)/6)
	for ; len(p) > 0; p = p[6:] {
		list = append(list, H2Setting{ID: binary.BigEndian.Uint16(p), Value: binary.BigEndian.Uint32(p[2:])})
	}
	return list, nil
}
