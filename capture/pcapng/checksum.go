package pcapng

import (
	"encoding/binary"
	"math/bits"
)

// sum returns the 16-bit one's complement sum of b (RFC 1071) added to
// acc, not yet folded or complemented. It adds eight bytes at a time: the
// one's complement sum of big-endian 64-bit words, folded to 16 bits, is
// that of the 16-bit words (2^16 ≡ 1 modulo 2^16-1), and it is several
// times faster than gopacket.ComputeChecksum, which adds a byte at a time
// and was the largest cost of writing a segment.
func sum(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	acc, c = bits.Add64(acc, c, 0)
	acc += c // end-around carry: this add cannot carry again
	for len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), 0)
		acc += c
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, 0)
		acc += c
	}
	return acc
}

// fold folds a sum to 16 bits and complements it: the checksum field.
func fold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return ^uint16(acc)
}

// tcpChecksum returns the TCP checksum of segment (header, with a zero
// checksum field, and payload) between src and dst (4 or 16 bytes each):
// the pseudo-header of RFC 9293 section 3.1 for IPv4 and of RFC 8200
// section 8.1 for IPv6, then the segment.
func tcpChecksum(src, dst []byte, segment []byte) uint16 {
	acc := sum(src, 0)
	acc = sum(dst, acc)
	acc += 6 // the protocol number of TCP
	acc += uint64(len(segment))
	return fold(sum(segment, acc))
}
