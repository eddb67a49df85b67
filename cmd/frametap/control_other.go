//go:build !linux

package main

import "net"

// checkPeer relies on the socket's owner-only mode where SO_PEERCRED is
// not available.
func checkPeer(net.Conn) error { return nil }
