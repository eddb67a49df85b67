#!/bin/sh
# Makes filter/testdata/peers.jsonl: real clients (curl, Python websockets)
# and servers on loopback, through the frametap binary in regular mode.
# usage: sh mkcapture.sh OUT.jsonl   (from the repository root, after go build)
set -eu
PY=${PY:-/usr/bin/python3} # Debian's, with python3-websockets
out=$1
tmp=$(mktemp -d)
srv= tap=
trap 'kill $srv $tap 2>/dev/null; rm -rf "$tmp"; true' EXIT
here=$(dirname "$0")
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
$PY -u "$here/servers.py" "$tmp" >"$tmp/ports" &
srv=$!
while ! grep -q PORTS "$tmp/ports"; do kill -0 $srv; sleep 0.1; done
read -r _ ws http https <"$tmp/ports"
./frametap --headless -w "$tmp/cap.jsonl" --listen 127.0.0.1:18181 --ca-dir "$tmp/ca" -k >/dev/null &
tap=$!
sleep 1
P=http://127.0.0.1:18181
# A kept-alive connection: two GETs (200, 404) and a POST of JSON.
curl -sS -x $P -H 'X-Request-Id: 42' "http://127.0.0.1:$http/api/items" \
	--next -sS -x $P "http://127.0.0.1:$http/missing" \
	--next -sS -x $P -H 'Content-Type: application/json' -d '{"type":"order","qty":2}' "http://127.0.0.1:$http/api/orders" >/dev/null
# HTTPS through a CONNECT tunnel that frametap intercepts.
curl -sS -x $P --cacert "$tmp/ca/frametap-ca-cert.pem" "https://127.0.0.1:$https/secure" >/dev/null
# WebSocket through a CONNECT tunnel.
$PY "$here/client.py" "$ws" 127.0.0.1:18181
sleep 0.5
kill -INT $tap
wait $tap || true
cp "$tmp/cap.jsonl" "$out"
