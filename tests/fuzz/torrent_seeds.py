#!/usr/bin/env python3
"""Writes the mutated seeds of the torrent fuzz target (tests/fuzz/corpus/torrent/) from the
fixture's real torrents, which fuzz_torrent writes there first:

  WEIGHTS_FUZZ_TORRENT_SEEDS=tests/fuzz/corpus/torrent build-fuzz/tests/fuzz/fuzz_torrent -runs=0
  tests/fuzz/torrent_seeds.py tests/fuzz/corpus/torrent

Each mutant breaks one rule of check_torrent_against_manifest (or, without piece layers, only
PieceLayers::required)."""
import copy
import os
import sys


def dec(b, i=0):
    c = b[i:i+1]
    if c == b'i':
        j = b.index(b'e', i); return int(b[i+1:j]), j+1
    if c == b'l':
        i += 1; out = []
        while b[i:i+1] != b'e':
            v, i = dec(b, i); out.append(v)
        return out, i+1
    if c == b'd':
        i += 1; out = {}
        while b[i:i+1] != b'e':
            k, i = dec(b, i); v, i = dec(b, i); out[k] = v
        return out, i+1
    j = b.index(b':', i); n = int(b[i:j]); return b[j+1:j+1+n], j+1+n
def enc(v):
    if isinstance(v, int): return b'i%de' % v
    if isinstance(v, bytes): return b'%d:' % len(v) + v
    if isinstance(v, list): return b'l' + b''.join(enc(x) for x in v) + b'e'
    return b'd' + b''.join(enc(k) + enc(v[k]) for k in sorted(v)) + b'e'
d = sys.argv[1]
hy = open(os.path.join(d, 'hybrid.torrent'), 'rb').read()
v1 = open(os.path.join(d, 'v1.torrent'), 'rb').read()
h, _ = dec(hy); t, _ = dec(v1)
assert enc(h) == hy and enc(t) == v1


def w(name, obj): open(os.path.join(d, name), 'wb').write(obj if isinstance(obj, bytes) else enc(obj))
x = copy.deepcopy(h); del x[b'piece layers']; w('hybrid-no-piece-layers.torrent', x)
x = copy.deepcopy(h); k = next(iter(x[b'piece layers'])); l = bytearray(x[b'piece layers'][k]); l[40] ^= 1; x[b'piece layers'][k] = bytes(l); w('hybrid-bad-piece-layer.torrent', x)
x = copy.deepcopy(h); x[b'info'][b'name'] = b'other-revision'; w('hybrid-renamed.torrent', x)
w('hybrid-truncated.torrent', hy[:len(hy)//2])
x = copy.deepcopy(t); x[b'info'][b'files'][0][b'path'] = [b'extra.json']; w('v1-extra-file.torrent', x)
x = copy.deepcopy(t); f = [f for f in x[b'info'][b'files'] if b'attr' not in f][-1]; f[b'length'] += 1; w('v1-wrong-length.torrent', x)
x = copy.deepcopy(t); f = [f for f in x[b'info'][b'files'] if b'attr' not in f][0]; f[b'attr'] = b'x'; w('v1-executable.torrent', x)
x = copy.deepcopy(t); del x[b'info'][b'files'][0]; w('v1-missing-file.torrent', x)
x = copy.deepcopy(h); del x[b'info'][b'pieces']; del x[b'info'][b'files']; w('v2-only.torrent', x)
x = copy.deepcopy(t); i = x[b'info']; f = i[b'files'][0]; del i[b'files']; i[b'length'] = f[b'length']; i[b'pieces'] = i[b'pieces'][:20]; w('v1-single-file.torrent', x)
x = copy.deepcopy(t); x[b'info'][b'files'].append(copy.deepcopy(x[b'info'][b'files'][0])); w('v1-duplicate-file.torrent', x)
x = copy.deepcopy(t); f = [f for f in x[b'info'][b'files'] if b'attr' not in f][0]; f[b'attr'] = b'l'; f[b'symlink path'] = [b'..', b'etc', b'passwd']; w('v1-symlink.torrent', x)
