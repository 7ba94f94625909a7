#!/usr/bin/env bash
# openssl-chain.sh DIR NAME[=SAN,SAN...]...
#
# Shows, with plain openssl, the certificates a tickcast deployment needs from
# a real CA: a root kept offline, an intermediate that signs, and per host a
# leaf whose file holds the chain (leaf first, then the intermediate). With
# your organisation's CA, ask it for leaves with the same profile:
#   - EC P-256 (or RSA 2048+) key, CN = the host's name (relays and the
#     publisher log it, and allow-downstream lists it);
#   - extendedKeyUsage serverAuth AND clientAuth: a relay serves its
#     downstreams and dials its upstream with the same certificate;
#   - subjectAltName with the IPs and DNS names clients dial.
# Daemons take --cert DIR/NAME.pem (the chain), --key DIR/NAME-key.pem and
# --ca DIR/ca.pem (the root only: intermediates travel in the chain).
#
# Example: openssl-chain.sh /etc/tickcast/tls publisher=IP:10.0.0.5,DNS:pub1 hub=IP:10.1.0.2 edge-tokyo
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,17p' "$0"; exit 2; }
dir=$1; shift
mkdir -p "$dir"
cd "$dir"
days_root=3650 days_int=1825 days_leaf=397
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

if [ ! -f ca.pem ]; then
  key ca-key.pem
  openssl req -x509 -new -key ca-key.pem -out ca.pem -days $days_root -subj "/CN=tickcast example root CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi
if [ ! -f intermediate.pem ]; then
  key intermediate-key.pem
  openssl req -new -key intermediate-key.pem -out intermediate.csr -subj "/CN=tickcast example intermediate CA"
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > intermediate.ext
  openssl x509 -req -in intermediate.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out intermediate.pem \
    -days $days_int -extfile intermediate.ext 2>/dev/null
  rm -f intermediate.csr intermediate.ext
fi
for arg in "$@"; do
  name=${arg%%=*}
  san="DNS:$name"
  [ "$arg" != "$name" ] && san="$san,${arg#*=}"
  key "$name-key.pem"
  openssl req -new -key "$name-key.pem" -out "$name.csr" -subj "/CN=$name"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA intermediate.pem -CAkey intermediate-key.pem -CAcreateserial \
    -out "$name.leaf.pem" -days $days_leaf -extfile "$name.ext" 2>/dev/null
  cat "$name.leaf.pem" intermediate.pem > "$name.pem"
  rm -f "$name.csr" "$name.ext" "$name.leaf.pem"
  echo "$dir/$name.pem (chain), $dir/$name-key.pem, CA $dir/ca.pem: CN=$name, $san"
done
