#!/usr/bin/python3
"""Watch battery services for values no plausible battery sends (e2e helper).

buswatch.py ADDR OUT SERVICE...   until SIGTERM: GetItems on each service every
                                  0.1 s; every value breaking a rule below goes to
                                  OUT as one line, and the number of rounds to
                                  OUT.rounds at the end

A value that reached D-Bus stays there at least one poll cycle (0.5 s and more),
so a 0.1 s read catches every one.
"""
import re
import signal
import sys
import time

import dbus

CELL = re.compile(r'^/Voltages/Cell\d+$')


def broken(path, v, cvl_max):
    """Why a published value cannot come from a plausible cycle, or None."""
    if v is None:
        return None
    if path == '/Soc' and not 0 <= v <= 100:
        return 'SOC'
    if path == '/Soh' and not 0 <= v <= 100:
        return 'SOH'
    if path == '/Dc/0/Voltage' and v <= 0:
        return 'pack voltage'
    if 'Temperature' in path and not path.startswith('/Alarms/') and not -40 <= v <= 100:
        return 'temperature'
    if (path in ('/System/MinCellVoltage', '/System/MaxCellVoltage') or CELL.match(path)) \
            and not 1.5 <= v <= 4.5:
        return 'cell voltage'
    if path == '/System/NrOfCellsPerBattery' and v != 16:
        return 'cell count'
    if path == '/Info/MaxChargeVoltage' and v > cvl_max + 0.005:
        return 'CVL above its registered value'
    return None


def plain(v):
    if isinstance(v, dbus.Array) and len(v) == 0:
        return None
    if isinstance(v, (dbus.Int32, dbus.Int64, dbus.UInt32, dbus.Byte, dbus.Int16, dbus.Double)):
        return float(v)
    return None  # strings carry no numbers to check


def main():
    addr, out = sys.argv[1], sys.argv[2]
    services = sys.argv[3:]
    cvl_max = 16 * 3.45  # the CVL of the registered 16 cells: it may never rise
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    bus = dbus.bus.BusConnection(addr)
    rounds = 0
    with open(out, 'w') as f:
        while not stop:
            for s in services:
                try:
                    items = bus.get_object(s, '/', introspect=False).GetItems(
                        dbus_interface='com.victronenergy.BusItem')
                except dbus.exceptions.DBusException:
                    continue  # not up yet, or gone
                for path, props in items.items():
                    v = plain(props.get('Value'))
                    why = broken(str(path), v, cvl_max)
                    if why:
                        f.write('%s %s = %s (%s)\n' % (s, path, v, why))
                        f.flush()
            rounds += 1
            time.sleep(0.1)
    with open(out + '.rounds', 'w') as f:
        f.write('%d\n' % rounds)
    return 0


if __name__ == '__main__':
    sys.exit(main())
