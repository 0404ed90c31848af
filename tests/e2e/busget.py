#!/usr/bin/python3
"""Read com.victronenergy.BusItem values like any Venus client (test helper).

busget.py ADDR names                          battery services on the bus
busget.py ADDR value SERVICE PATH             one value ('invalid' for an empty ai)
busget.py ADDR owner SERVICE                  the unique connection name that owns SERVICE
busget.py ADDR set SERVICE PATH INT           SetValue(int32); prints the int it returns
busget.py ADDR wait SERVICE PATH OP X SECS    until value OP X holds (OP: == != < <= > >=
                                              approx, invalid, valid, exists); exit 1 on timeout
"""
import sys
import time

import dbus

TOL = 0.005


def connect(addr):
    return dbus.bus.BusConnection(addr)


def get(bus, service, path):
    obj = bus.get_object(service, path, introspect=False)
    v = obj.GetValue(dbus_interface='com.victronenergy.BusItem')
    if isinstance(v, dbus.Array) and len(v) == 0:
        return None
    if isinstance(v, dbus.String):
        return str(v)
    if isinstance(v, (dbus.Int32, dbus.Int64, dbus.UInt32, dbus.Byte, dbus.Int16)):
        return int(v)
    if isinstance(v, dbus.Double):
        return float(v)
    return v


def holds(v, op, x):
    if op == 'invalid':
        return v is None
    if op == 'valid':
        return v is not None
    if op == 'exists':
        return True
    if v is None:
        return False
    if isinstance(v, str):
        return {'==': v == x, '!=': v != x}.get(op, False)
    x = float(x)
    return {'==': abs(v - x) <= TOL, 'approx': abs(v - x) <= 0.05, '!=': abs(v - x) > TOL,
            '<': v < x, '<=': v <= x + TOL, '>': v > x, '>=': v >= x - TOL}[op]


def main():
    addr, cmd = sys.argv[1], sys.argv[2]
    bus = connect(addr)
    if cmd == 'names':
        for n in sorted(bus.list_names()):
            if str(n).startswith('com.victronenergy.battery.'):
                print(n)
        return 0
    if cmd == 'owner':
        print(bus.get_name_owner(sys.argv[3]))
        return 0
    if cmd == 'value':
        v = get(bus, sys.argv[3], sys.argv[4])
        print('invalid' if v is None else v)
        return 0
    if cmd == 'set':
        obj = bus.get_object(sys.argv[3], sys.argv[4], introspect=False)
        print(int(obj.SetValue(dbus.Int32(int(sys.argv[5]), variant_level=1),
                               dbus_interface='com.victronenergy.BusItem')))
        return 0
    if cmd == 'wait':
        service, path, op, x, secs = sys.argv[3:8]
        deadline = time.monotonic() + float(secs)
        last = 'absent'
        while True:
            try:
                v = get(bus, service, path)
                last = 'invalid' if v is None else v
                if holds(v, op, x):
                    print(last)
                    return 0
            except dbus.exceptions.DBusException as e:
                last = e.get_dbus_name()
            if time.monotonic() >= deadline:
                print('timeout: %s %s: last %s, wanted %s %s' % (service, path, last, op, x))
                return 1
            time.sleep(0.1)
    print('usage: see the docstring', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
