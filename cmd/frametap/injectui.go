package main

import (
	"context"

	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/proxy"
	"github.com/frametap/frametap/ui"
)

// dashInjector is the dashboard's ui.Injector (the i key): the proxy's
// Inject and Injectable. The dashboard does not depend on the proxy;
// serve wires this in.
type dashInjector struct{ p *proxy.Proxy }

func toSide(toServer bool) decode.Side {
	if toServer {
		return decode.Server
	}
	return decode.Client
}

func (d dashInjector) Injectable(conn uint64, toServer bool) error {
	return d.p.Injectable(conn, toSide(toServer))
}

func (d dashInjector) Inject(ctx context.Context, conn uint64, m ui.Injection) error {
	op, err := proxy.ParseInjectOp(m.Op)
	if err != nil {
		return err
	}
	return d.p.Inject(ctx, conn, toSide(m.ToServer), proxy.Injection{
		Op: op, Payload: m.Payload, CloseCode: m.CloseCode, CloseReason: m.CloseReason, OnWait: m.OnWait,
	})
}
