/* SPDX-License-Identifier: MIT */
/*
 * The libudev half of discovery. Existing devices and hotplug events are
 * turned into the same struct hotplug_props and reported through the same
 * callback, so "present at start" and "plugged in later" cannot behave
 * differently. The monitor is created before enumerating: a device plugged
 * between the two is then reported twice (enumerated and as an event) rather
 * than never; the supervisor's port table treats a second add of a known
 * device node as a no-op.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "hotplug/hotplug.h"

struct hotplug_watch {
	struct udev *udev;
	struct udev_monitor *mon;
};

int hotplug_watch_new(struct hotplug_watch **ret)
{
	int r = -ENOMEM;
	struct hotplug_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->udev = udev_new();
	if (!w->udev)
		goto fail;
	/* "udev", not "kernel": events after the rules ran, so ID_* and VE_SERVICE are set. */
	w->mon = udev_monitor_new_from_netlink(w->udev, "udev");
	if (!w->mon) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	r = udev_monitor_filter_add_match_subsystem_devtype(w->mon, "tty", NULL);
	if (r < 0)
		goto fail;
	r = udev_monitor_enable_receiving(w->mon);
	if (r < 0)
		goto fail;
	*ret = w;
	return 0;
fail:
	hotplug_watch_free(w);
	return r < 0 ? r : -EIO;
}

void hotplug_watch_free(struct hotplug_watch *w)
{
	if (!w)
		return;
	udev_monitor_unref(w->mon);
	udev_unref(w->udev);
	free(w);
}

int hotplug_watch_fd(const struct hotplug_watch *w)
{
	return udev_monitor_get_fd(w->mon);
}

static const char *prop(struct udev_device *d, const char *key)
{
	return udev_device_get_property_value(d, key);
}

/* Fill p from d; strings stay owned by d (and its parents) for the callback's duration. */
static bool read_props(struct udev_device *d, struct hotplug_props *p)
{
	memset(p, 0, sizeof(*p));
	p->devname = prop(d, "DEVNAME");
	if (!p->devname)
		p->devname = udev_device_get_devnode(d);
	if (!p->devname)
		return false; /* no device node: nothing to open */
	p->id_bus = prop(d, "ID_BUS");
	p->vendor_id = prop(d, "ID_VENDOR_ID");
	p->model_id = prop(d, "ID_MODEL_ID");
	p->vendor = prop(d, "ID_VENDOR");
	p->model = prop(d, "ID_MODEL");
	p->serial = prop(d, "ID_SERIAL");
	p->serial_short = prop(d, "ID_SERIAL_SHORT");
	p->iface_num = prop(d, "ID_USB_INTERFACE_NUM");
	p->path = prop(d, "ID_PATH");
	p->ve_service = prop(d, "VE_SERVICE");
	p->sb_claim = prop(d, "SERIALBATTERY");
	/*
	 * Without udev's usb_id import (minimal systems, some containers) the
	 * tty still has a USB parent: take vendor, product and serial from sysfs.
	 */
	if (!p->vendor_id || !p->id_bus) {
		struct udev_device *usb =
			udev_device_get_parent_with_subsystem_devtype(d, "usb", "usb_device");
		if (usb) {
			p->id_bus = p->id_bus ? p->id_bus : "usb";
			if (!p->vendor_id)
				p->vendor_id = udev_device_get_sysattr_value(usb, "idVendor");
			if (!p->model_id)
				p->model_id = udev_device_get_sysattr_value(usb, "idProduct");
			if (!p->vendor)
				p->vendor = udev_device_get_sysattr_value(usb, "manufacturer");
			if (!p->model)
				p->model = udev_device_get_sysattr_value(usb, "product");
			if (!p->serial_short) {
				p->serial_short = udev_device_get_sysattr_value(usb, "serial");
				if (!p->serial)
					p->serial = p->serial_short;
			}
		}
	}
	return true;
}

int hotplug_watch_enumerate(struct hotplug_watch *w, hotplug_event_fn fn, void *ctx)
{
	struct udev_enumerate *e = udev_enumerate_new(w->udev);
	if (!e)
		return -ENOMEM;
	int r = udev_enumerate_add_match_subsystem(e, "tty");
	if (r >= 0)
		r = udev_enumerate_scan_devices(e);
	if (r < 0)
		goto out;
	struct udev_list_entry *it;
	udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e))
	{
		struct udev_device *d =
			udev_device_new_from_syspath(w->udev, udev_list_entry_get_name(it));
		if (!d)
			continue; /* removed while we walked the list: its remove event follows */
		struct hotplug_props p;
		if (read_props(d, &p))
			fn(ctx, HOTPLUG_ADD, &p);
		udev_device_unref(d);
	}
	r = 0;
out:
	udev_enumerate_unref(e);
	return r;
}

int hotplug_watch_dispatch(struct hotplug_watch *w, hotplug_event_fn fn, void *ctx)
{
	struct udev_device *d;
	/* The monitor socket is non-blocking: receive until it is empty. */
	while ((d = udev_monitor_receive_device(w->mon))) {
		const char *action = udev_device_get_action(d);
		enum hotplug_action a = 0;
		if (action && strcmp(action, "add") == 0)
			a = HOTPLUG_ADD;
		else if (action && strcmp(action, "remove") == 0)
			a = HOTPLUG_REMOVE;
		struct hotplug_props p;
		if (a && read_props(d, &p))
			fn(ctx, a, &p);
		udev_device_unref(d);
	}
	return 0;
}
