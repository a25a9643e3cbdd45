#!/bin/sh
# all layouts x checkpoint sizes at 100k customers, fresh store per run
cd "$(dirname "$0")"
for L in A B1r B1c B1b B2c B2b B2n; do
  for C in 1000 10000 100000 1000000; do
    case $C in 1000) M=20000;; 10000) M=100000;; 100000) M=500000;; 1000000) M=2000000;; esac
    rm -rf db100k; mkdir db100k; nice -n 10 ./ckpt build db100k 100000 5 >/dev/null
    nice -n 10 ./ckpt run db100k 100000 5 $L $C $M $1
  done
done
