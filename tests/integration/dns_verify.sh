#!/usr/bin/env bash
# signet verify over real DNS: a dnsmasq on 127.0.0.1 (high port, started and
# stopped here) serves the key records, including a 2048-bit RSA record split
# into two character-strings, a revoked one and none for a third selector.
# Passes when verify goes through libresolv to that server and gets
# pass / pass / permerror (revoked) / permerror (no record).
set -euo pipefail
signet=$1
work=$2
rm -rf "$work" && mkdir -p "$work"
port=$(( 20000 + RANDOM % 20000 ))

"$signet" keygen --algorithm rsa --out "$work/rsa.key" > "$work/rsa.txt"
"$signet" keygen --algorithm ed25519 --out "$work/ed.key" > "$work/ed.txt"
# keygen prints "…" "…" strings; dnsmasq takes them comma-separated.
rsa_strings=$(sed 's/" "/","/g' "$work/rsa.txt")
ed_strings=$(cat "$work/ed.txt")
[ "$(grep -o '" "' "$work/rsa.txt" | wc -l)" -ge 1 ] || { echo "FAIL: rsa record was not split"; exit 1; }

# Quoted character-strings are parsed in a config file (not on the command
# line); local=/example.com/ makes unknown names NXDOMAIN instead of REFUSED.
cat > "$work/dnsmasq.conf" <<CONF
no-resolv
no-hosts
bind-interfaces
listen-address=127.0.0.1
port=$port
local=/example.com/
txt-record=rsa._domainkey.example.com,$rsa_strings
txt-record=ed._domainkey.example.com,$ed_strings
txt-record=old._domainkey.example.com,"v=DKIM1; k=ed25519; p="
CONF
dnsmasq --no-daemon --conf-file="$work/dnsmasq.conf" --log-facility="$work/dnsmasq.log" &
dns_pid=$!
trap 'kill $dns_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "started" "$work/dnsmasq.log" 2>/dev/null && break
  sleep 0.1
done

printf 'From: a@example.com\r\nTo: b@example.org\r\nSubject: dns\r\n\r\nbody\r\n' > "$work/msg"
"$signet" sign -d example.com -s rsa -k "$work/rsa.key" -s ed -k "$work/ed.key" \
  -s old -k "$work/ed.key" -s missing -k "$work/ed.key" < "$work/msg" > "$work/signed"
set +e
out=$("$signet" verify --server "127.0.0.1:$port" < "$work/signed")
rc=$?
set -e
echo "$out"
expect() {
  if grep -q -- "$1" <<<"$out"; then echo "ok   $2"; pass=$((pass+1)); else echo "FAIL $2"; fail=$((fail+1)); fi
}
pass=0 fail=0
expect "dkim=pass header.d=example.com header.s=rsa header.a=rsa-sha256" "rsa-2048 record split in two strings, over DNS"
expect "dkim=pass header.d=example.com header.s=ed header.a=ed25519-sha256" "ed25519 record over DNS"
expect "dkim=permerror (key revoked (empty p=)" "revoked selector (p= empty) over DNS"
expect "dkim=permerror (no key record at missing._domainkey.example.com)" "NXDOMAIN selector over DNS"
[ $rc -eq 1 ] && { echo "ok   exit code 1 when any signature fails"; pass=$((pass+1)); } || { echo "FAIL exit code $rc"; fail=$((fail+1)); }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
