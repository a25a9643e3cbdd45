#!/bin/sh
# fresh store per line: key-range chunks (C=1M, K=8) vs position-range chunks of
# the same memory (C=125k, K=1), and B2h (event-id hash kept in the record)
cd "$(dirname "$0")"
while read L C K M; do
  rm -rf db1m; mkdir db1m; nice -n 10 ./ckpt build db1m 1000000 5 >/dev/null
  nice -n 10 ./ckpt runk db1m 1000000 $L $C $K $M
done <<LIST
B2h 1000000 8 3000000
B2h 125000 1 1000000
B2c 1000000 8 3000000
B2c 125000 1 1000000
B2h 2000000 16 4000000
A 125000 1 1000000
LIST
