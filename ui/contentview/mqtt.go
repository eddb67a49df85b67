package contentview

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// mqttNames are the control packet types (MQTT 3.1.1 section 2.2.1, MQTT
// 5.0 section 2.1.2; AUTH is 5.0 only).
var mqttNames = [16]string{"reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

var errMQTTShort = errors.New("the packet ends early")

// MQTTLevel returns the protocol level a CONNECT packet asks for (3 for
// MQTT 3.1, 4 for 3.1.1, 5 for 5.0): the client's first message on an
// MQTT connection starts with it.
func MQTTLevel(payload []byte) (level byte, ok bool) {
	if len(payload) == 0 {
		return 0, false
	}
	typ, _, body, _, err := mqttPacket(payload)
	if err != nil || typ != 1 {
		return 0, false
	}
	r := mqttReader{p: body}
	if _, err := r.str(); err != nil {
		return 0, false
	}
	level, err = r.byte()
	return level, err == nil
}

// MQTT reads a WebSocket message as MQTT control packets (MQTT 3.1, 3.1.1
// or 5.0, by level; 0 means 3.1.1): a fixed header (type, flags, remaining
// length), then a variable header and a payload by type. "A single
// WebSocket data frame can contain multiple or partial MQTT Control
// Packets" (MQTT 3.1.1 section 6): a packet cut by the end of the message
// is described as far as it goes.
func MQTT(payload []byte, level byte) View {
	if level == 0 {
		level = 4
	}
	v := View{Protocol: "mqtt"}
	var summaries []string
	n := 0
	for p := payload; len(p) > 0 && v.Err == ""; {
		if n == viewMaxFrames {
			v.add("packets", fmt.Sprintf("more than %d: the rest not shown", viewMaxFrames))
			break
		}
		n++
		if n > 1 {
			v.add("packet", strconv.Itoa(n))
		}
		typ, flags, body, rest, err := mqttPacket(p)
		name := mqttNames[typ]
		v.add("type", name)
		v.add("flags", fmt.Sprintf("%04b", flags))
		if err != nil {
			v.Err = err.Error()
			summaries = append(summaries, name)
			break
		}
		v.add("remaining length", strconv.Itoa(len(body)))
		summaries = append(summaries, mqttDescribe(&v, typ, flags, body, level))
		p = rest
	}
	if n == 0 {
		v.Err = "empty message"
	}
	if len(summaries) > 0 {
		v.Summary = summaries[0]
		if n > 1 {
			v.Summary += fmt.Sprintf(" (+%d packets)", n-1)
			v.Body = nil
		}
	}
	return v
}

// mqttPacket reads the fixed header of the packet at the start of p
// (MQTT 3.1.1 section 2.2): its type, its flags, its body (variable header
// and payload) and what follows it.
func mqttPacket(p []byte) (typ, flags byte, body, rest []byte, err error) {
	typ, flags = p[0]>>4, p[0]&0x0f
	// "The Remaining Length is encoded using a variable length encoding
	// scheme which uses a single byte for values up to 127", at most 4
	// bytes (section 2.2.3).
	n, mul := 0, 1
	i := 1
	for ; ; i++ {
		if i > 4 {
			return typ, flags, nil, nil, fmt.Errorf("remaining length of more than 4 bytes (malformed)")
		}
		if i == len(p) {
			return typ, flags, nil, nil, fmt.Errorf("the fixed header goes on past the end of the message: the packet continues in the next one")
		}
		n += int(p[i]&0x7f) * mul
		mul *= 128
		if p[i]&0x80 == 0 {
			break
		}
	}
	i++
	if len(p)-i < n {
		return typ, flags, p[i:], nil, fmt.Errorf("remaining length %d, and %d bytes in this message: the packet continues in the next one", n, len(p)-i)
	}
	return typ, flags, p[i : i+n], p[i+n:], nil
}

// mqttDescribe adds the fields of one whole packet and returns its
// summary.
func mqttDescribe(v *View, typ, flags byte, body []byte, level byte) string {
	name := mqttNames[typ]
	// Section 2.2.2: the flags of every type but PUBLISH are fixed.
	want := byte(0)
	switch typ {
	case 6, 8, 10:
		want = 2
	}
	if typ == 0 || typ == 15 && level < 5 {
		v.setErr(fmt.Sprintf("packet type %d is reserved", typ))
		return name
	}
	if typ != 3 && flags != want {
		v.setErr(fmt.Sprintf("%s with flags %04b, must be %04b", name, flags, want))
	}
	r := mqttReader{p: body}
	var sum string
	var err error
	switch typ {
	case 1:
		sum, err = mqttConnect(v, &r)
	case 2:
		sum, err = mqttConnack(v, &r, level)
	case 3:
		sum, err = mqttPublish(v, &r, flags, level)
	case 4, 5, 6, 7, 11:
		sum, err = mqttAck(v, &r, name, typ == 11, level)
	case 8, 10:
		sum, err = mqttSubscribe(v, &r, name, typ == 8, level)
	case 9:
		sum, err = mqttAck(v, &r, name, true, level)
	case 12, 13:
		sum = name
		if len(body) > 0 {
			err = fmt.Errorf("%s with a body of %d bytes", name, len(body))
		}
	case 14, 15:
		sum = name
		if len(body) > 0 && level >= 5 {
			var code byte
			code, err = r.byte()
			v.add("reason code", fmt.Sprintf("0x%02x", code))
			sum += fmt.Sprintf(" reason=0x%02x", code)
			if err == nil && r.left() > 0 {
				err = r.properties(v)
			}
		} else if len(body) > 0 {
			err = fmt.Errorf("%s with a body of %d bytes", name, len(body))
		}
	}
	if err != nil {
		v.setErr(name + ": " + err.Error())
	}
	return sum
}

func mqttConnect(v *View, r *mqttReader) (string, error) {
	proto, err := r.str()
	if err != nil {
		return "CONNECT", err
	}
	level, err := r.byte()
	if err != nil {
		return "CONNECT", err
	}
	version := map[byte]string{3: "3.1", 4: "3.1.1", 5: "5.0"}[level]
	v.add("protocol", fmt.Sprintf("%s level %d (MQTT %s)", clip([]byte(proto)), level, version))
	if version == "" || (level == 3) != (proto == "MQIsdp") || level > 3 && proto != "MQTT" {
		v.setErr(fmt.Sprintf("protocol %q level %d is no MQTT version", clip([]byte(proto)), level))
	}
	cf, err := r.byte()
	if err != nil {
		return "CONNECT", err
	}
	keep, err := r.u16()
	if err != nil {
		return "CONNECT", err
	}
	v.add("clean session", strconv.FormatBool(cf&0x02 != 0))
	v.add("keep alive", fmt.Sprintf("%ds", keep))
	if level == 5 {
		if err := r.properties(v); err != nil {
			return "CONNECT", err
		}
	}
	id, err := r.str()
	if err != nil {
		return "CONNECT", err
	}
	v.add("client id", clip([]byte(id)))
	sum := fmt.Sprintf("CONNECT client-id=%s MQTT %s keep-alive=%ds", clip([]byte(id)), version, keep)
	if cf&0x04 != 0 { // Will Flag
		if level == 5 {
			if err := r.properties(v); err != nil {
				return sum, err
			}
		}
		topic, err := r.str()
		if err != nil {
			return sum, err
		}
		msg, err := r.bin()
		if err != nil {
			return sum, err
		}
		v.add("will topic", clip([]byte(topic)))
		v.add("will message", clip(msg))
		v.add("will qos", strconv.Itoa(int(cf>>3&3)))
	}
	if cf&0x80 != 0 {
		user, err := r.str()
		if err != nil {
			return sum, err
		}
		v.add("user name", clip([]byte(user)))
	}
	if cf&0x40 != 0 {
		pw, err := r.bin()
		if err != nil {
			return sum, err
		}
		v.add("password", fmt.Sprintf("(%d bytes)", len(pw)))
	}
	return sum, r.end()
}

func mqttConnack(v *View, r *mqttReader, level byte) (string, error) {
	ack, err := r.byte()
	if err != nil {
		return "CONNACK", err
	}
	code, err := r.byte()
	if err != nil {
		return "CONNACK", err
	}
	v.add("session present", strconv.FormatBool(ack&1 != 0))
	name := "return code"
	if level >= 5 {
		name = "reason code"
	}
	v.add(name, fmt.Sprintf("0x%02x", code))
	sum := fmt.Sprintf("CONNACK %s=0x%02x", strings.Fields(name)[0], code)
	if level >= 5 {
		if err := r.properties(v); err != nil {
			return sum, err
		}
	}
	return sum, r.end()
}

func mqttPublish(v *View, r *mqttReader, flags, level byte) (string, error) {
	qos := flags >> 1 & 3
	v.add("dup", strconv.FormatBool(flags&8 != 0))
	v.add("qos", strconv.Itoa(int(qos)))
	v.add("retain", strconv.FormatBool(flags&1 != 0))
	if qos == 3 {
		return "PUBLISH", fmt.Errorf("QoS 3 (section 3.3.1.2: \"A PUBLISH Packet MUST NOT have both QoS bits set to 1\")")
	}
	topic, err := r.str()
	if err != nil {
		return "PUBLISH", err
	}
	v.add("topic", clip([]byte(topic)))
	sum := fmt.Sprintf("PUBLISH %s qos=%d", clip([]byte(topic)), qos)
	if qos > 0 {
		id, err := r.u16()
		if err != nil {
			return sum, err
		}
		v.add("packet id", strconv.Itoa(int(id)))
		sum += fmt.Sprintf(" id=%d", id)
	}
	if level >= 5 {
		if err := r.properties(v); err != nil {
			return sum, err
		}
	}
	payload := r.rest()
	v.add("payload", clip(payload))
	v.Body = payload
	return sum + fmt.Sprintf(" (%d bytes)", len(payload)), nil
}

// mqttAck reads the packets that are a packet id and little else: PUBACK,
// PUBREC, PUBREL, PUBCOMP (a reason code and properties in 5.0), SUBACK
// and UNSUBACK (their return or reason codes, one per topic).
func mqttAck(v *View, r *mqttReader, name string, codes bool, level byte) (string, error) {
	id, err := r.u16()
	if err != nil {
		return name, err
	}
	v.add("packet id", strconv.Itoa(int(id)))
	sum := fmt.Sprintf("%s id=%d", name, id)
	if level >= 5 && !codes && r.left() > 0 {
		code, _ := r.byte()
		v.add("reason code", fmt.Sprintf("0x%02x", code))
		sum += fmt.Sprintf(" reason=0x%02x", code)
	}
	if level >= 5 && r.left() > 0 {
		if err := r.properties(v); err != nil {
			return sum, err
		}
	}
	if codes && r.left() > 0 {
		var list []string
		for _, c := range r.rest() {
			list = append(list, fmt.Sprintf("0x%02x", c))
		}
		v.add("codes", clip([]byte(strings.Join(list, " "))))
		sum += " " + clip([]byte(strings.Join(list, ",")))
	}
	return sum, r.end()
}

// mqttSubscribe reads SUBSCRIBE (topic filters with their options) and
// UNSUBSCRIBE (topic filters).
func mqttSubscribe(v *View, r *mqttReader, name string, options bool, level byte) (string, error) {
	id, err := r.u16()
	if err != nil {
		return name, err
	}
	v.add("packet id", strconv.Itoa(int(id)))
	sum := fmt.Sprintf("%s id=%d", name, id)
	if level >= 5 {
		if err := r.properties(v); err != nil {
			return sum, err
		}
	}
	var topics []string
	for r.left() > 0 {
		topic, err := r.str()
		if err != nil {
			return sum, err
		}
		t := clip([]byte(topic))
		if options {
			o, err := r.byte()
			if err != nil {
				return sum, err
			}
			t += fmt.Sprintf(" (qos %d)", o&3)
		}
		v.add("topic", t)
		topics = append(topics, t)
	}
	if len(topics) == 0 {
		// Sections 3.8.3 and 3.10.3: "The payload ... MUST contain at
		// least one" topic filter.
		return sum, fmt.Errorf("no topic filter")
	}
	return sum + " " + clip([]byte(strings.Join(topics, ", "))), nil
}

// mqttReader reads the fields of a packet body.
type mqttReader struct {
	p []byte
}

func (r *mqttReader) left() int { return len(r.p) }

func (r *mqttReader) rest() []byte {
	p := r.p
	r.p = nil
	return p
}

func (r *mqttReader) end() error {
	if len(r.p) > 0 {
		return fmt.Errorf("%d bytes past the packet's last field", len(r.p))
	}
	return nil
}

func (r *mqttReader) byte() (byte, error) {
	if len(r.p) < 1 {
		return 0, errMQTTShort
	}
	b := r.p[0]
	r.p = r.p[1:]
	return b, nil
}

func (r *mqttReader) u16() (uint16, error) {
	if len(r.p) < 2 {
		return 0, errMQTTShort
	}
	n := binary.BigEndian.Uint16(r.p)
	r.p = r.p[2:]
	return n, nil
}

// bin reads Binary Data: a two-byte length, then that many bytes.
func (r *mqttReader) bin() ([]byte, error) {
	n, err := r.u16()
	if err != nil {
		return nil, err
	}
	if len(r.p) < int(n) {
		return nil, errMQTTShort
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b, nil
}

// str reads a UTF-8 Encoded String (section 1.5.3): "MUST be well-formed
// UTF-8".
func (r *mqttReader) str() (string, error) {
	b, err := r.bin()
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return string(b), fmt.Errorf("a string that is not UTF-8: %q", clip(b))
	}
	return string(b), nil
}

// properties skips MQTT 5 properties (section 2.2.2: a variable byte
// integer length, then the properties), noting their size.
func (r *mqttReader) properties(v *View) error {
	n, mul := 0, 1
	for i := 0; ; i++ {
		b, err := r.byte()
		if err != nil {
			return err
		}
		if i == 4 {
			return fmt.Errorf("property length of more than 4 bytes (malformed)")
		}
		n += int(b&0x7f) * mul
		mul *= 128
		if b&0x80 == 0 {
			break
		}
	}
	if len(r.p) < n {
		return errMQTTShort
	}
	if n > 0 {
		v.add("properties", fmt.Sprintf("%d bytes", n))
	}
	r.p = r.p[n:]
	return nil
}
