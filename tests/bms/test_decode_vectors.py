#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every captured reply of the families in FAMILIES through `serialbattery decode`.

For each protocol file in tests/vectors/ whose driver is one of FAMILIES, every
response frame is decoded twice by the real binary: alone, and inside one
capture holding every frame of the file (requests too) in file order. Every
key of its "expected" object must come out of the decode, within 0.001 for
numbers: a key the mapping below cannot find fails, so a new vector key is
never skipped silently.

What decode prints (tools/decode.h): with --frames one line per frame,
"@OFFSET DIR 0xCMD NAME...: {json}" holding the snapshot fields the frame
completed and what else the frame carried (describe() items), then the
merged snapshot as the last line.

usage: test_decode_vectors.py SERIALBATTERY VECTORS_DIR
"""
import json
import re
import subprocess
import sys

# Not seplos_v3: its capture holds an exception reply to a block the driver never asks
# (EIB 0x2100), which decode refuses without values, and system blocks of the master
# (EIA/EIC) it never polls; test_seplos_v3's read pass checks those through describe.
FAMILIES = ["jk", "jkpb", "jbd", "jbd_up16s", "daly", "renogy", "eg4_lifepower", "ant_legacy",
            "ant_2021", "pace", "seplos_v2", "eg4_ll", "pylontech", "daren", "ks48100"]
TOL = 0.001
LINE = re.compile(r"^@(\d+) (\S+) (0x[0-9a-fA-F]+) (.*?): (\{.*\})$")
# a reply of another unit on the same bus: decoded in a run of its own (--address)
FOREIGN = re.compile(r"^@\d+ reply \S+ .*\(address (\d+)\): foreign")

# vector key -> the decode key holding the same value, when the names differ
ALIASES = {
    "capacity_nominal_ah": ["capacity_design_ah"],
    "capacity_ah": ["capacity_design_ah"],
    "ntc_count": ["bms_temp_count"],
    "temp_sensor_count": ["bms_temp_count"],
    "cell_count": ["cell_count", "bms_cell_count"],
    "hw_model": ["model"],
    "device_id": ["model"],
    "serial_number": ["serial"],
    "name": ["model"],
    "heater": ["heating"],
    "charge_mosfet_on": ["charge_fet"],
    "discharge_mosfet_on": ["discharge_fet"],
    "charge_switch": ["charge_fet"],
    "discharge_switch": ["discharge_fet"],
    "capacity_rated_ah": ["capacity_design_ah"],
    # describe keys hold 23 characters: the vectors' longer names are shortened
    "alarm_event4_env_power_temp": ["alarm_event4_env_power"],
    # EG4 LL: aiobmsble's reading of the disputed current scale is the driver's
    "current_a_aiobmsble": ["current_a"],
}

# vector key -> the numbered describe items ("cell1_warning", ...) that make the array
NUMBERED = {
    "cell_warnings": "cell%d_warning",
    "temp_warnings": "temp%d_warning",
    "cell_alarm_codes": "cell%d_alarm_code",
    "temp_alarm_codes": "temp%d_alarm_code",
}

# "temperatures_c" of the '~' families: the cell sensors, then the last two in wire order
TEMPS_TAIL = {
    "pace": ["mosfet_temp_c", "environment_temp_c"],
    "seplos_v2": ["environment_temp_c", "mosfet_temp_c"],
}

# keys a family's driver deliberately does not give (with why), as its C test skips them
SKIP = {
    # the current scale is disputed; the driver reads 0.1 A (docs/PROTOCOLS.md "EG4 LL")
    "eg4_ll": ["current_a_dbus_serialbattery"],
}


def run_decode(binary, drv, hexes, extra=()):
    args = [binary, "decode", "--bms", drv, "--frames"] + list(extra)
    for h in hexes:
        args += ["--hex", h]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    lines, snap = [], None
    for ln in p.stdout.splitlines():
        m = LINE.match(ln)
        if m:
            lines.append({"off": int(m.group(1)), "dir": m.group(2),
                          "cmd": int(m.group(3), 16), "values": json.loads(m.group(5))})
        elif ln.startswith("{"):
            snap = json.loads(ln)
    return p.returncode, p.stdout + p.stderr, lines, snap


def merged(lines, snap):
    """What the frames of one vector carried, later frames winning, then the snapshot."""
    d = {}
    for ln in lines:
        if ln["dir"] == "reply":
            d.update(ln["values"])
    if snap:
        for k, v in snap.items():
            d.setdefault(k, v)
    return d


def cell_stats(d):
    cells = d.get("cell_voltages_v")
    if not cells:
        return None
    present = [(v, i + 1) for i, v in enumerate(cells) if v > 0]
    if not present:
        return None
    mn = min(present)
    mx = max(present, key=lambda t: (t[0], -t[1]))
    return {"min_cell_v": mn[0], "min_cell_no": mn[1], "max_cell_v": mx[0], "max_cell_no": mx[1],
            "delta_v": mx[0] - mn[0], "cell_delta_mv": (mx[0] - mn[0]) * 1000,
            "avg_cell_v": sum(v for v, _ in present) / len(present)}


def lookup(key, exp, d, lines, fam=None):
    """The decoded value for an expected key, or raise KeyError."""
    if key == "temperatures_c" and fam in TEMPS_TAIL and "temperatures_c" in d:
        return d["temperatures_c"] + [d[k] for k in TEMPS_TAIL[fam] if k in d]
    if key in NUMBERED:
        got = []
        while NUMBERED[key] % (len(got) + 1) in d:
            got.append(d[NUMBERED[key] % (len(got) + 1)])
        if got:
            return got
    if key == "temperatures_c" and "ntc1_c" in d:
        # every NTC in wire order (JBD): the snapshot puts the first of several on
        # mosfet_temp_c, the frame line shows them all as ntc1_c, ntc2_c, ...
        return [d["ntc%d_c" % i] for i in range(1, 9) if "ntc%d_c" % i in d]
    if key == "temperatures_c" and "temp1_c" in d:
        # every sensor slot the frame has, as the frame line shows them (ANT: the
        # snapshot lists only the battery sensors that are fitted)
        return [d["temp%d_c" % i] for i in range(1, 9) if "temp%d_c" % i in d]
    if key in d and key not in ("balancing",):
        return d[key]
    for alt in ALIASES.get(key, []):
        if alt in d:
            return d[alt]
    m = re.match(r"^temp(\d)_c$", key)
    if m and "temperatures_c" in d:
        i = int(m.group(1)) - 1
        if i < len(d["temperatures_c"]):
            return d["temperatures_c"][i]
    if key in ("short_circuit", "charge_overcurrent", "discharge_overcurrent", "cell_overvoltage",
               "cell_undervoltage", "charge_overtemp", "charge_undertemp", "discharge_overtemp",
               "discharge_undertemp", "pack_overvoltage", "pack_undervoltage") \
            and "protection_events" in d:
        return d["protection_events"][key]
    if key == "current_a_offset30000" and "current_raw" in d:
        return (d["current_raw"] - 30000) / 10.0
    if key == "frames":
        return sum(1 for ln in lines if ln["dir"] == "reply")
    if key == "cell_voltages_v_1_to_16" and "cell_voltages_v" in d:
        return d["cell_voltages_v"][:16]
    if key == "cell_count_in_0x95" and "cell_voltages_v" in d:
        return len(d["cell_voltages_v"])
    if key == "cells_17_to_48":
        # every cell position past 16 that a frame carried reads 0
        seen = []
        for ln in lines:
            for k, v in ln["values"].items():
                m = re.match(r"^cell_?(\d+)(_v|_mv)?$", k)
                if m and int(m.group(1)) >= 17:
                    seen.append(v)
        if not seen:
            raise KeyError(key)
        return "all 0.0" if all(v == 0 for v in seen) else "some cells past 16 are not 0: %s" % seen
    if key == "alarm_registers_5100_5107" and "status3" in d:
        # Renogy: the raw alarm and status words, as describe() names them
        return [d[k] for k in ("cell_voltage_alarms_hi", "cell_voltage_alarms_lo",
                               "cell_temp_alarms_hi", "cell_temp_alarms_lo", "other_alarms",
                               "status1", "status2", "status3")]
    if key == "fault" and "alarms" in d:
        return any(v for v in d["alarms"].values())
    if key == "balancing":
        if "balancing" in d:
            return len(d["balancing"]) > 0
        raise KeyError(key)
    if key == "temp_sensor_count" and "temperatures_c" in d:
        return len(d["temperatures_c"])
    st = cell_stats(d)
    if st and key in st:
        return st[key]
    raise KeyError(key)


def same(want, got):
    if isinstance(want, bool) or isinstance(got, bool):
        return bool(want) == bool(got) and not isinstance(got, str)
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float)) and abs(float(want) - float(got)) <= TOL + 1e-9
    if isinstance(want, str):
        return isinstance(got, str) and got == want
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and \
            all(same(a, b) for a, b in zip(want, got))
    return want == got


def check(vec, d, lines, where, fails, fam=None):
    n = 0
    for key, want in vec["expected"].items():
        if key in SKIP.get(fam, ()):
            continue
        try:
            got = lookup(key, want, d, lines, fam)
        except KeyError:
            fails.append("%s: %s=%r not in the decode output" % (where, key, want))
            continue
        if not same(want, got):
            fails.append("%s: %s: want %r, got %r" % (where, key, want, got))
        n += 1
    return n


def main():
    binary, vdir = sys.argv[1], sys.argv[2]
    fails = []
    totals = []
    for fam in FAMILIES:
        vecs = json.load(open("%s/%s.json" % (vdir, fam)))
        responses = [v for v in vecs if v["direction"] == "response"]
        if not responses:
            fails.append("%s: no response frame in the vectors" % fam)
        checked = 0
        # alone
        for i, v in enumerate(responses):
            rc, out, lines, snap = run_decode(binary, fam, [v["hex"]])
            where = "%s response %d alone" % (fam, i)
            if rc != 0:
                fails.append("%s: exit %d: %s" % (where, rc, out.strip()[-300:]))
                continue
            checked += check(v, merged(lines, snap), lines, where, fails, fam)
        # inside one capture of every frame of the file, requests included
        whole = "".join(v["hex"] for v in vecs)
        rc, out, lines, snap = run_decode(binary, fam, [whole])
        runs = [lines]
        # the replies of another unit on the bus: the same capture decoded for that unit
        for addr in sorted({int(m.group(1)) for m in map(FOREIGN.match, out.splitlines()) if m}):
            rc2, out2, lines2, _ = run_decode(binary, fam, [whole], ["--address", str(addr)])
            if rc2 != 0:
                fails.append("%s whole capture for address %d: exit %d: %s"
                             % (fam, addr, rc2, out2.strip()[-300:]))
            runs.append(lines2)
        if rc != 0:
            fails.append("%s whole capture: exit %d: %s" % (fam, rc, out.strip()[-300:]))
        else:
            off = 0
            for v in vecs:
                n = len(v["hex"]) // 2
                mine = []
                for run in runs:  # the first run that decoded this frame as a reply
                    mine = [ln for ln in run if off <= ln["off"] < off + n]
                    if any(ln["dir"] == "reply" for ln in mine):
                        break
                if v["direction"] == "response":
                    where = "%s response at byte %d of the whole capture" % (fam, off)
                    if not any(ln["dir"] == "reply" for ln in mine):
                        fails.append("%s: no reply decoded there" % where)
                    else:
                        check(v, merged(mine, None), mine, where, fails, fam)
                elif not any(ln["dir"] == "request" for ln in mine):
                    fails.append("%s request at byte %d: not told as a request" % (fam, off))
                off += n
        totals.append("%s: %d frames in the vectors (%d replies), %d values checked alone"
                      % (fam, len(vecs), len(responses), checked))
    print("\n".join(totals))
    if fails:
        print("\n".join("FAIL " + f for f in fails))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
