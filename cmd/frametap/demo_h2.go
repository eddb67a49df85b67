package main

// HTTP/2's act (issue 9): many small resources fetched at once on one
// connection. The demo speaks h2c (HTTP/2 with prior knowledge, RFC 9113
// section 3.3) inside a CONNECT tunnel: frametap sniffs the preface and
// decodes it as it would h2 over TLS, and neither the demo's client nor
// frametap's upstream side has to trust a certificate made for the demo.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// h2Assets is how many small resources the page of the HTTP/2 act loads
// at once.
const h2Assets = 12

// newH2CServer is the HTTP/2 act's server: h2c only, an index and small
// resources that each take a moment to make, so that their streams
// overlap on the wire.
func newH2CServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /h2/index.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var names []string
		for i := 1; i <= h2Assets; i++ {
			names = append(names, fmt.Sprintf("%q", h2AssetName(i)))
		}
		fmt.Fprintf(w, `{"assets":[%s]}`, strings.Join(names, ","))
	})
	mux.HandleFunc("GET /h2/assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.PathValue("name"), "icon-%d.svg", &i); err != nil || i < 1 || i > h2Assets {
			http.NotFound(w, r)
			return
		}
		t := time.NewTimer(time.Duration(20+(i%4)*40) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle cx="8" cy="8" r="%d"/></svg>`, 2+i%6)
	})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Server{Handler: mux, Protocols: &p, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
}

func h2AssetName(i int) string { return fmt.Sprintf("icon-%d.svg", i) }

// h2Fetches loads the index and then every resource at once, every few
// seconds, on one HTTP/2 connection through a CONNECT tunnel.
func h2Fetches(ctx context.Context, p demoPeers) {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols: &protos,
		// One connection: without the bound net/http may dial spares
		// for requests queued while its first is set up.
		MaxConnsPerHost: 1,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			nc, br, err := dialTunnel(ctx, p.proxy, addr)
			if err != nil {
				return nil, err
			}
			return &bufferedConn{Conn: nc, r: br}, nil
		},
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "http://" + p.h2 + "/h2/"
	for ctx.Err() == nil {
		if req, err := http.NewRequestWithContext(ctx, "GET", base+"index.json", nil); err == nil {
			demoDo(c, req)
		}
		var wg sync.WaitGroup
		for i := 1; i <= h2Assets; i++ {
			wg.Go(func() {
				if req, err := http.NewRequestWithContext(ctx, "GET", base+"assets/"+h2AssetName(i), nil); err == nil {
					demoDo(c, req)
				}
			})
		}
		wg.Wait()
		sleepCtx(ctx, 5*time.Second)
	}
}

// bufferedConn is a connection whose first bytes were read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
