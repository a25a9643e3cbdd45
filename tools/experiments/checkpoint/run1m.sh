#!/bin/sh
# layouts x checkpoint sizes at 1M customers; one fresh store per layout,
# sizes run small to large on it (B2* records grow ~8 B per applied touchpoint)
cd "$(dirname "$0")"
for L in ${LAYOUTS:-A B1c B1b B2c B2b B2n}; do
  rm -rf db1m; mkdir db1m; nice -n 10 ./ckpt build db1m 1000000 5 >/dev/null
  for C in 1000 10000 100000 1000000; do
    case $C in 1000) M=20000;; 10000) M=100000;; 100000) M=500000;; 1000000) M=2000000;; esac
    TRACE=100000 nice -n 10 ./ckpt run db1m 1000000 5 $L $C $M $1
  done
done
