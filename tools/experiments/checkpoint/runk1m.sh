#!/bin/sh
# key-range chunked checkpoints at 1M customers (one fresh store, B2* last)
cd "$(dirname "$0")"
rm -rf db1m; mkdir db1m; nice -n 10 ./ckpt build db1m 1000000 5 >/dev/null
while read L C K; do
  nice -n 10 ./ckpt runk db1m 1000000 $L $C $K $((2*C))
done <<LIST
A 1000000 8
B1c 1000000 8
B1b 1000000 4
B2n 1000000 4
B2n 2000000 8
B2c 500000 4
B2c 1000000 8
B2c 2000000 16
LIST
