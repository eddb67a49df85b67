package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/frametap/frametap/capture"
)

// frametap inject reaches a running frametap through --control and writes
// the message into the live WebSocket; the socket is owner-only and gone
// once frametap stops.
func TestControlInject(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 4)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		if _, err := (ws.Upgrader{}).Upgrade(nc); err != nil {
			return
		}
		for {
			msg, op, err := wsutil.ReadClientData(nc)
			if err != nil {
				return
			}
			got <- fmt.Sprint(op) + " " + string(msg)
		}
	}()
	sock := filepath.Join(t.TempDir(), "ft.sock")
	path := filepath.Join(t.TempDir(), "cap.jsonl")
	var stdout, stderr syncBuffer
	addr := runProxyOut(t, &stdout, &stderr, "--mode", "reverse:http://"+ln.Addr().String(), "-w", path, "--control", sock)
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket of mode 0600", st.Mode())
	}
	if _, err := listenControl(sock, nil); err == nil || !strings.Contains(err.Error(), "another frametap listens there") {
		t.Errorf("a second --control on the same socket: %v", err)
	}
	nc, _, _, err := ws.Dialer{Timeout: 5 * time.Second}.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wsutil.WriteClientText(nc, []byte("hello"))
	if m := <-got; m != "1 hello" {
		t.Fatalf("server got %q", m)
	}
	var id string
	waitUntil(t, "the capture has the upgrade", func() bool {
		evs, _ := capture.ReadFile(path)
		for _, ev := range evs {
			if ev.Kind == capture.KindUpgrade {
				id = fmt.Sprint(ev.Conn)
			}
		}
		return id != ""
	})
	var out, errOut bytes.Buffer
	if err := run([]string{"inject", "--control", sock, "--conn", id, "--to", "server", "--text", "from frametap"}, &out, &errOut); err != nil {
		t.Fatalf("inject: %v\n%s", err, errOut.String())
	}
	select {
	case m := <-got:
		if m != "1 from frametap" {
			t.Errorf("server got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server got no injected message")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--conn", id, "--to", "server", "--type", "close", "--code", "1005"}, "close code 1005 is reserved"},
		{[]string{"--conn", "77", "--to", "server", "--text", "x"}, "no such open connection: 77"},
		{[]string{"--conn", id, "--to", "sideways", "--text", "x"}, `to "sideways"`},
		{[]string{"--conn", id, "--to", "client", "--hex", "zz"}, "--hex"},
	} {
		err := run(append([]string{"inject", "--control", sock}, tc.args...), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("inject %q: %v; want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// A socket left by a frametap that died is replaced; a file that is not a
// socket is not touched.
func TestControlStaleSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "ft.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, nobody listens
	cs, err := listenControl(sock, nil)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	cs.close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after close: %v", err)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o600)
	if _, err := listenControl(plain, nil); err == nil {
		t.Error("a regular file was taken as a control socket")
	}
	if b, _ := os.ReadFile(plain); string(b) != "x" {
		t.Error("the regular file was changed")
	}
}
