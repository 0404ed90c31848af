/* SPDX-License-Identifier: MIT */
#include "tests/udev/mockdev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct kind_props {
	const char *vid, *pid, *vendor, *model, *serial_short, *ve_service;
};

static const struct kind_props kinds[] = {
	[MOCK_CH340] = {"1a86", "7523", "1a86", "USB_Serial", NULL, NULL},
	[MOCK_FTDI] = {"0403", "6001", "FTDI", "FT232R_USB_UART", "A10K1234", NULL},
	[MOCK_CP2102] = {"10c4", "ea60", "Silicon_Labs", "CP2102_USB_to_UART_Bridge_Controller",
			 "0001", NULL},
	/* Venus OS's own rules would also set VE_SERVICE=vedirect; the product strings alone must do */
	[MOCK_VEDIRECT] = {"0403", "6015", "VictronEnergy_BV", "VE_Direct_cable", "VE5GZN4D", NULL},
};

int mock_plug(UMockdevTestbed *tb, enum mock_kind kind, int socket, const char *tty,
	      struct mock_adapter *ret)
{
	const struct kind_props *k = &kinds[kind];
	char usbname[32], ifname[48], serial[160], path[128], devname[64];
	snprintf(usbname, sizeof(usbname), "1-%d", socket);
	snprintf(ifname, sizeof(ifname), "1-%d:1.0", socket);
	if (k->serial_short)
		snprintf(serial, sizeof(serial), "%s_%s_%s", k->vendor, k->model, k->serial_short);
	else
		snprintf(serial, sizeof(serial), "%s_%s", k->vendor, k->model);
	snprintf(path, sizeof(path), "pci-0000:00:14.0-usb-0:%d:1.0", socket);
	snprintf(devname, sizeof(devname), "/dev/%s", tty);

	gchar *usb = umockdev_testbed_add_device(
		tb, "usb", usbname, NULL, "idVendor", k->vid, "idProduct", k->pid, NULL,
		"DEVTYPE", "usb_device", "ID_VENDOR_ID", k->vid, "ID_MODEL_ID", k->pid, NULL);
	if (!usb)
		return -EIO;
	gchar *intf = umockdev_testbed_add_device(tb, "usb", ifname, usb, "bInterfaceNumber", "00",
						   NULL, "DEVTYPE", "usb_interface", NULL);
	if (!intf) {
		g_free(usb);
		return -EIO;
	}
	gchar *t = umockdev_testbed_add_device(
		tb, "tty", tty, intf, NULL, "DEVNAME", devname, "ID_BUS", "usb", "ID_VENDOR_ID",
		k->vid, "ID_MODEL_ID", k->pid, "ID_VENDOR", k->vendor, "ID_MODEL", k->model,
		"ID_SERIAL", serial, "ID_USB_INTERFACE_NUM", "00", "ID_PATH", path,
		k->serial_short ? "ID_SERIAL_SHORT" : NULL, k->serial_short, NULL);
	g_free(intf);
	if (!t) {
		g_free(usb);
		return -EIO;
	}
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->usb_syspath, sizeof(ret->usb_syspath), "%s", usb);
	snprintf(ret->tty_syspath, sizeof(ret->tty_syspath), "%s", t);
	snprintf(ret->devname, sizeof(ret->devname), "%s", devname);
	g_free(usb);
	g_free(t);
	/* umockdev_testbed_add_device() has already sent the "add" uevent */
	return 0;
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
