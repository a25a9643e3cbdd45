#!/bin/sh
# Q2 / WRITEMAP runs done by hand (100k customers):
#  RssAnon growth inside one 1M-touchpoint txn, with and without MDB_WRITEMAP;
#  device amplification of MDB_WRITEMAP at 10k-touchpoint checkpoints.
cd "$(dirname "$0")"
mkdir -p dbq2
rm -rf dbq2/*; nice -n 10 ./ckpt build dbq2 100000 5 >/dev/null
TRACE=50000 nice -n 10 ./ckpt run dbq2 100000 5 A 1000000 1000000
rm -rf dbq2/*; nice -n 10 ./ckpt build dbq2 100000 5 >/dev/null
TRACE=250000 MAPGB=4 nice -n 10 ./ckpt run dbq2 100000 5 A 1000000 1000000 w
for seq in "w" "n w"; do
  rm -rf dbq2/*; nice -n 10 ./ckpt build dbq2 100000 5 >/dev/null
  for m in $seq; do [ $m = w ] && W=w || W=; MAPGB=4 nice -n 10 ./ckpt run dbq2 100000 5 A 10000 100000 $W; done
done
rm -rf dbq2
# /proc/self/io write_bytes vs device, 2000 random 4 KiB pwrites into a 256 MiB file:
python3 - <<'PY'
import os,random,time
def wb():
    for l in open('/proc/self/io'):
        if l.startswith('write_bytes'): return int(l.split()[1])
def dev(): return int(open('/sys/block/vda/stat').read().split()[6])*512
f=os.open('t.bin',os.O_RDWR|os.O_CREAT); buf=os.urandom(1<<20)
for i in range(256): os.write(f,buf)
os.fsync(f); b=os.urandom(4096)
w0=wb(); d0=dev()
for i in range(2000): os.pwrite(f,b,random.randrange(65536)*4096)
os.fdatasync(f)
print("io write_bytes %.1f MiB, device %.1f MiB, pwrite 7.8 MiB" % ((wb()-w0)/2**20,(dev()-d0)/2**20))
os.close(f); os.unlink('t.bin')
PY
