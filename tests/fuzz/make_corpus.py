#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus tests/fuzz/corpus/<driver>/ from the captured vectors.

The driver -> vectors family mapping is read from dc_families[] in
tests/bms/driver_checks.c and the frames from tests/bms/vectors.inc, so a new
driver gets seeds by re-running this script. Byte 0 of each file is the
driver selector of the fuzz entry point (ignored when the driver is pinned,
as fuzz.sh and the replay test do)."""
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
checks = open(os.path.join(root, 'tests/bms/driver_checks.c')).read()
families = re.findall(r'\{"(\w+)", "(\w+)"\}', checks)
inc = open(os.path.join(root, 'tests/bms/vectors.inc')).read()
vectors = re.findall(r'^\t\{"(\w+)", "(request|response)", "([0-9a-f]*)"', inc, re.M)

out_root = os.path.join(root, 'tests/fuzz/corpus')
for driver, family in families:
    d = os.path.join(out_root, driver)
    os.makedirs(d, exist_ok=True)
    stream = b''
    n = 0
    for fam, direction, hexs in vectors:
        if fam != family:
            continue
        frame = bytes.fromhex(hexs)
        with open(os.path.join(d, '%s-%02d' % (direction, n)), 'wb') as f:
            f.write(b'\0' + frame)
        stream += frame
        n += 1
    if stream:
        # everything back to back with noise between: resynchronisation paths
        with open(os.path.join(d, 'stream'), 'wb') as f:
            f.write(b'\0' + b'\x00\xff' + stream.replace(stream[:2], b'\x55' + stream[:2], 1))
    if family == 'jk_pb_rs485':
        # the PB reply as on the bus: frame, 00, the Modbus ACK, 00
        req = [bytes.fromhex(h) for f, dr, h in vectors if f == family and dr == 'request'][0]
        rsp = [bytes.fromhex(h) for f, dr, h in vectors if f == family and dr == 'response'][0]
        ack = req[:6]
        crc = 0xFFFF
        for b in ack:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        with open(os.path.join(d, 'reply-with-ack'), 'wb') as f:
            f.write(b'\0' + req + rsp + b'\0' + ack + bytes([crc & 0xFF, crc >> 8]) + b'\0')
    print('%s: %d vectors' % (driver, n), file=sys.stderr)
