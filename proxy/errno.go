package proxy

import "syscall"

// syscallEMFILE is accept's "too many open files": the proxy waits and
// retries instead of giving up on every client.
const syscallEMFILE = syscall.EMFILE

// Dial errors a SOCKS5 client is told apart (socksReplyFor).
const (
	errConnRefused     = syscall.ECONNREFUSED
	errNetUnreachable  = syscall.ENETUNREACH
	errHostUnreachable = syscall.EHOSTUNREACH
)
