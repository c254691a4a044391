#!/usr/bin/env bash
# A real capture where the analysis is the heavy part: HTTPS with HTTP/2 (TLS decrypted from
# the key log, then HPACK and streams), from nginx and curl on loopback, captured by tcpdump.
#
#   scripts/capture_tls_h2.sh OUT.pcap [CONNECTIONS] [REQUESTS_PER_CONNECTION]
#
# Writes OUT.pcap and OUT.pcap.keys (curl's SSLKEYLOGFILE). Defaults: 48 connections of 2000
# requests (96,000 requests, ~225k packets, ~80 MB). Needs root (tcpdump on lo), nginx,
# curl with HTTP/2, openssl and tcpdump. Used by scripts/bench.sh (two workers against one
# where a fixed split of the work between the front and the workers fails).
set -euo pipefail
out=${1:?usage: scripts/capture_tls_h2.sh OUT.pcap [CONNECTIONS] [REQUESTS_PER_CONNECTION]}
connections=${2:-48}
requests=${3:-2000}
for tool in nginx curl openssl tcpdump; do
  command -v "$tool" > /dev/null || { echo "capture_tls_h2.sh: $tool is not installed" >&2; exit 1; }
done
dir=$(mktemp -d)
chmod 755 "$dir" # nginx's workers run as nobody
mkdir -p "$dir/www"
head -c 300 /dev/urandom | base64 > "$dir/www/a.txt"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
  -days 2 -subj /CN=localhost 2> /dev/null
port=$((20000 + RANDOM % 20000))
cat > "$dir/nginx.conf" << EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port ssl http2;
    keepalive_requests 1000000;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    root $dir/www;
  }
}
EOF
tcpdump_pid=""
cleanup() {
  [ -z "$tcpdump_pid" ] || kill "$tcpdump_pid" 2> /dev/null || true
  [ ! -f "$dir/nginx.pid" ] || nginx -c "$dir/nginx.conf" -s stop > /dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
nginx -c "$dir/nginx.conf" 2> /dev/null
rm -f "$out" "$out.keys"
tcpdump -i lo -w "$out" -s 0 -B 65536 "tcp port $port" 2> "$dir/tcpdump.log" &
tcpdump_pid=$!
# Traffic only once tcpdump listens.
for _ in $(seq 100); do
  grep -q listening "$dir/tcpdump.log" && break
  sleep 0.1
done
grep -q listening "$dir/tcpdump.log" || { cat "$dir/tcpdump.log" >&2; exit 1; }
for _ in $(seq "$connections"); do
  SSLKEYLOGFILE=$out.keys curl -sk --no-progress-meter --http2 --parallel --parallel-max 16 \
    "https://127.0.0.1:$port/a.txt?[1-$requests]" > /dev/null 2>&1 &
done
wait $(jobs -p | grep -v "^$tcpdump_pid$")
sleep 0.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2> /dev/null || true
tcpdump_pid=""
grep -E "captured|dropped by kernel" "$dir/tcpdump.log" >&2
