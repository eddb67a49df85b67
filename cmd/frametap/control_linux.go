package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// checkPeer refuses a control connection from another user than
// frametap's (SO_PEERCRED), beside the socket's owner-only mode.
func checkPeer(nc net.Conn) error {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("control: not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("control: peer credentials: %w", cerr)
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("control: refused: the peer runs as uid %d, frametap as %d", cred.Uid, os.Getuid())
	}
	return nil
}
