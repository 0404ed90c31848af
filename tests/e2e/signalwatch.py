#!/usr/bin/python3
"""Record what a Venus client sees of the battery services (e2e test helper).

signalwatch.py ADDR LOG [all]: until SIGTERM, writes one JSON line per event to LOG:
  {"t": monotonic s, "ev": "owner", "name": service, "owner": unique name or ""}
  {"t": ..., "ev": "items", "name": service, "items": {path: value or null}}
ItemsChanged of every battery service is recorded, and GetItems when a
battery name appears (a value set before the name was requested is in no
signal). Only the paths the end-to-end tests ask about are kept, or every
path with "all".
"""
import json
import signal
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

PREFIX = 'com.victronenergy.battery.'
KEEP = ('/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent',
        '/Io/AllowToCharge', '/Io/AllowToDischarge', '/System/NrOfModulesOffline',
        '/Alarms/BmsCable', '/Connected', '/State', '/Mode')


def plain(v):
    if isinstance(v, dbus.Array) and len(v) == 0:
        return None
    if isinstance(v, dbus.String):
        return str(v)
    if isinstance(v, dbus.Double):
        return float(v)
    if isinstance(v, (dbus.Int32, dbus.Int64, dbus.UInt32, dbus.Byte, dbus.Int16)):
        return int(v)
    return str(v)


def main():
    addr, path = sys.argv[1], sys.argv[2]
    keep_all = len(sys.argv) > 3 and sys.argv[3] == 'all'
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(addr)
    out = open(path, 'w', buffering=1)
    owners = {}  # unique name -> service

    def log(**kw):
        kw['t'] = time.monotonic()
        out.write(json.dumps(kw) + '\n')

    def items(name, d, key):
        kept = {}
        for p, v in d.items():
            if keep_all or str(p) in KEEP:
                kept[str(p)] = plain(v[key] if key else v)
        if kept:
            log(ev='items', name=name, items=kept)

    def on_owner(name, old, new):
        if not str(name).startswith(PREFIX):
            return
        owners.pop(str(old), None)
        if new:
            owners[str(new)] = str(name)
        log(ev='owner', name=str(name), owner=str(new))
        if new:
            try:
                obj = bus.get_object(str(name), '/', introspect=False)
                d = obj.GetItems(dbus_interface='com.victronenergy.BusItem')
                items(str(name), {p: v['Value'] for p, v in d.items()}, None)
            except dbus.exceptions.DBusException:
                pass

    def on_items(changes, sender=None):
        name = owners.get(str(sender))
        if name:
            items(name, changes, 'Value')

    bus.add_signal_receiver(on_owner, signal_name='NameOwnerChanged',
                            dbus_interface='org.freedesktop.DBus')
    bus.add_signal_receiver(on_items, signal_name='ItemsChanged',
                            dbus_interface='com.victronenergy.BusItem', path='/',
                            sender_keyword='sender')
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    log(ev='ready')
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
