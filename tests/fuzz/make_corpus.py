#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the fuzz seed corpus OUTDIR/<protocol>/ from tests/vectors/<protocol>.json.

Run by CMake at build time (the corpus is not committed): a new protocol's
vectors file is all it takes to get seeds. Byte 0 of each file is the driver
selector of the fuzz entry point (ignored when the driver is pinned, as
fuzz.sh and the replay test do).

usage: make_corpus.py OUTDIR tests/vectors/*.json
"""
import json
import os
import shutil
import sys


def crc16_modbus(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def write(path, data):
    # rewrite only on change, so an unchanged corpus keeps its timestamps
    try:
        with open(path, 'rb') as f:
            if f.read() == data:
                return
    except OSError:
        pass
    with open(path, 'wb') as f:
        f.write(data)


def main():
    out_root, files = sys.argv[1], sorted(sys.argv[2:])
    protos = {os.path.splitext(os.path.basename(p))[0] for p in files}
    if os.path.isdir(out_root):  # a vectors file removed takes its seeds along
        for d in os.listdir(out_root):
            if d not in protos and os.path.isdir(os.path.join(out_root, d)):
                shutil.rmtree(os.path.join(out_root, d))
    for path in files:
        proto = os.path.splitext(os.path.basename(path))[0]
        vectors = json.load(open(path))
        d = os.path.join(out_root, proto)
        os.makedirs(d, exist_ok=True)
        stream = b''
        for n, v in enumerate(vectors):
            frame = bytes.fromhex(v['hex'])
            write(os.path.join(d, '%s-%02d' % (v['direction'], n)), b'\0' + frame)
            stream += frame
        if stream:
            # everything back to back with noise between: resynchronisation paths
            write(os.path.join(d, 'stream'),
                  b'\0' + b'\x00\xff' + stream.replace(stream[:2], b'\x55' + stream[:2], 1))
        if proto == 'jkpb':
            # the PB reply as on the bus: frame, 00, the Modbus ACK, 00
            req = [bytes.fromhex(v['hex']) for v in vectors if v['direction'] == 'request'][0]
            rsp = [bytes.fromhex(v['hex']) for v in vectors if v['direction'] == 'response'][0]
            ack = req[:6]
            crc = crc16_modbus(ack)
            write(os.path.join(d, 'reply-with-ack'),
                  b'\0' + req + rsp + b'\0' + ack + bytes([crc & 0xFF, crc >> 8]) + b'\0')


if __name__ == '__main__':
    main()
