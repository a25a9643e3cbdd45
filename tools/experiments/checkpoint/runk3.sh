#!/bin/sh
# aged/realistic fill: customers built by scattered inserts (~70% full leaves);
# B2h key-range chunks over 6 checkpoints, and B2n for comparison
cd "$(dirname "$0")"
while read L C K M; do
  rm -rf db1m; mkdir db1m; RANDFILL=1 nice -n 10 ./ckpt build db1m 1000000 5 | grep customers
  nice -n 10 ./ckpt runk db1m 1000000 $L $C $K $M
done <<LIST
B2h 1000000 8 6000000
B2h 1000000 4 3000000
B2h 500000 4 2000000
LIST
