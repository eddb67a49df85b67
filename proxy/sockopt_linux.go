package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// This file is what transparent mode asks of Linux: the destination a
// redirected connection was dialed to, and a mark on frametap's own
// sockets so that the redirect leaves them alone.

// transparentSupported: Linux has SO_ORIGINAL_DST.
const transparentSupported = true

// soOriginalDst is SO_ORIGINAL_DST (linux/netfilter_ipv4.h), at level
// SOL_IP; IP6T_SO_ORIGINAL_DST (linux/netfilter_ipv6/ip6_tables.h), at
// level SOL_IPV6, has the same number.
const soOriginalDst = 80

// originalDst returns the address a connection redirected by netfilter
// (nftables or iptables REDIRECT/DNAT) was dialed to, as conntrack
// recorded it. An IPv4 connection on an IPv6 socket (IPv4-mapped) is
// asked at the IPv4 level, as mitmproxy does.
func originalDst(nc net.Conn) (netip.AddrPort, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("not a TCP connection (%T)", nc)
	}
	local, _ := tc.LocalAddr().(*net.TCPAddr)
	if local == nil {
		return netip.AddrPort{}, errors.New("no local address")
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	v4 := local.IP.To4() != nil
	var sa [28]byte // a sockaddr_in6; a sockaddr_in is its first 16 bytes
	var serr error
	if err := raw.Control(func(fd uintptr) {
		level := syscall.SOL_IP
		if !v4 {
			level = syscall.SOL_IPV6
		}
		serr = getsockopt(fd, level, soOriginalDst, sa[:])
	}); err != nil {
		return netip.AddrPort{}, err
	}
	if serr != nil {
		return netip.AddrPort{}, fmt.Errorf("SO_ORIGINAL_DST: %w", serr)
	}
	return parseSockaddr(sa[:])
}

// parseSockaddr reads a sockaddr_in or sockaddr_in6: the family in host
// order, then the port in network order.
func parseSockaddr(sa []byte) (netip.AddrPort, error) {
	port := binary.BigEndian.Uint16(sa[2:4])
	switch binary.NativeEndian.Uint16(sa[0:2]) {
	case syscall.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(sa[4:8])), port), nil
	case syscall.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(sa[8:24])).Unmap(), port), nil
	}
	return netip.AddrPort{}, fmt.Errorf("SO_ORIGINAL_DST: address family %d", binary.NativeEndian.Uint16(sa[0:2]))
}

// getsockopt reads a socket option of any size into b.
func getsockopt(fd uintptr, level, opt int, b []byte) error {
	n := uint32(len(b))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// markControl is a net.Dialer's Control that sets SO_MARK on the socket
// before it connects.
func markControl(mark int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, mark)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("setting SO_MARK %d (--set-mark needs CAP_NET_ADMIN): %w", mark, serr)
		}
		return nil
	}
}

// CheckMark reports whether this process may mark its sockets with mark
// (Config.Mark), so that a --set-mark that cannot work fails at start
// rather than on every dial.
func CheckMark(mark int) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_MARK, mark); err != nil {
		return fmt.Errorf("cannot set SO_MARK %d on a socket (it needs CAP_NET_ADMIN: run as root, or give the binary the capability): %w", mark, err)
	}
	return nil
}
