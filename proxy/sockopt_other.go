//go:build !linux

package proxy

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// transparentSupported: SO_ORIGINAL_DST is Linux's.
const transparentSupported = false

var errLinuxOnly = errors.New("transparent mode and --set-mark need Linux")

func originalDst(net.Conn) (netip.AddrPort, error) { return netip.AddrPort{}, errLinuxOnly }

func markControl(int) func(network, address string, c syscall.RawConn) error {
	return func(string, string, syscall.RawConn) error { return errLinuxOnly }
}

// CheckMark reports that marks need Linux.
func CheckMark(int) error { return errLinuxOnly }
