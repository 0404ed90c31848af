/* SPDX-License-Identifier: MIT */
#include "tests/hotplug/mockdev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kind_props {
	const char *vid, *pid, *vendor, *model, *serial_short, *ve_service;
};

static const struct kind_props kinds[] = {
	[MOCK_CH340] = {"1a86", "7523", "1a86", "USB_Serial", NULL, NULL},
	[MOCK_FTDI] = {"0403", "6001", "FTDI", "FT232R_USB_UART", "A10K1234", NULL},
	[MOCK_CP2102] = {"10c4", "ea60", "Silicon_Labs", "CP2102_USB_to_UART_Bridge_Controller",
			 "0001", NULL},
	/* Venus OS's own rules would also set VE_SERVICE=vedirect; the product strings alone must
	   do */
	[MOCK_VEDIRECT] = {"0403", "6015", "VictronEnergy_BV", "VE_Direct_cable", "VE5GZN4D", NULL},
};

static int plug(UMockdevTestbed *tb, enum mock_kind kind, int socket, const char *tty,
		bool pty_node, struct mock_adapter *ret)
{
	const struct kind_props *k = &kinds[kind];
	/*
	 * umockdev keeps some state of removed devices (bus links, the pty of a
	 * device name), so every plug gets a fresh sysfs name and callers use a
	 * fresh tty name; the socket only shows in ID_PATH, which is what
	 * identity and rules look at.
	 */
	static int plugs;
	plugs++;
	char usb[128], serial[160], path[128];
	snprintf(usb, sizeof(usb), "/devices/pci0000:00/0000:00:14.0/usb1/1-%d", plugs);
	if (k->serial_short)
		snprintf(serial, sizeof(serial), "%s_%s_%s", k->vendor, k->model, k->serial_short);
	else
		snprintf(serial, sizeof(serial), "%s_%s", k->vendor, k->model);
	snprintf(path, sizeof(path), "pci-0000:00:14.0-usb-0:%d:1.0", socket);
	int minor = atoi(tty + strcspn(tty, "0123456789"));
	char rec[4096];
	/* umockdev's record format, device first, then its parents; N: makes a pty-backed node */
	int n = snprintf(rec, sizeof(rec),
			 "P: %s/1-%d:1.0/%s/tty/%s\n%s%s%sE: DEVNAME=/dev/%s\nE: SUBSYSTEM=tty\n"
			 "E: ID_BUS=usb\nE: ID_VENDOR_ID=%s\nE: ID_MODEL_ID=%s\nE: ID_VENDOR=%s\n"
			 "E: ID_MODEL=%s\nE: ID_SERIAL=%s\n%s%s%sE: ID_USB_INTERFACE_NUM=00\n"
			 "E: ID_PATH=%s\n%s%s%sA: dev=188:%d\n\n"
			 "P: %s/1-%d:1.0\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\n"
			 "A: bInterfaceNumber=00\n\n"
			 "P: %s\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nA: idVendor=%s\n"
			 "A: idProduct=%s\n\n",
			 usb, plugs, tty, tty, pty_node ? "N: " : "", pty_node ? tty : "",
			 pty_node ? "\n" : "", tty, k->vid, k->pid, k->vendor, k->model, serial,
			 k->serial_short ? "E: ID_SERIAL_SHORT=" : "",
			 k->serial_short ? k->serial_short : "", k->serial_short ? "\n" : "", path,
			 k->ve_service ? "E: VE_SERVICE=" : "", k->ve_service ? k->ve_service : "",
			 k->ve_service ? "\n" : "", minor, usb, plugs, usb, k->vid, k->pid);
	if (n < 0 || (size_t)n >= sizeof(rec))
		return -ENAMETOOLONG;
	GError *err = NULL;
	if (!umockdev_testbed_add_from_string(tb, rec, &err)) {
		fprintf(stderr, "umockdev: %s\n", err ? err->message : "?");
		g_clear_error(&err);
		return -EIO;
	}
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->usb_syspath, sizeof(ret->usb_syspath), "/sys%s", usb);
	snprintf(ret->tty_syspath, sizeof(ret->tty_syspath), "/sys%s/1-%d:1.0/%s/tty/%s", usb,
		 plugs, tty, tty);
	snprintf(ret->devname, sizeof(ret->devname), "/dev/%s", tty);
	/* adding a device has already sent its "add" uevent */
	return 0;
}

int mock_plug(UMockdevTestbed *tb, enum mock_kind kind, int socket, const char *tty,
	      struct mock_adapter *ret)
{
	return plug(tb, kind, socket, tty, true, ret);
}

int mock_plug_linked(UMockdevTestbed *tb, enum mock_kind kind, int socket, const char *tty,
		     struct mock_adapter *ret)
{
	return plug(tb, kind, socket, tty, false, ret);
}

void mock_unplug(UMockdevTestbed *tb, struct mock_adapter *a)
{
	if (!a->tty_syspath[0])
		return;
	umockdev_testbed_uevent(tb, a->tty_syspath, "remove");
	umockdev_testbed_remove_device(tb, a->tty_syspath);
	umockdev_testbed_remove_device(tb, a->usb_syspath); /* and its interface below it */
	a->tty_syspath[0] = '\0';
}
