/* SPDX-License-Identifier: MIT */
/*
 * Fake USB serial adapters in a umockdev testbed: a USB device, its
 * interface and a tty child carrying the properties udev's usb_id builtin
 * would set. umockdev backs the tty's /dev node with a pty. The process
 * (and any child it starts) must run with libumockdev-preload.so.
 */
#ifndef SB_TEST_MOCKDEV_H
#define SB_TEST_MOCKDEV_H

#include <umockdev.h>

enum mock_kind {
	MOCK_CH340,    /* 1a86:7523, no serial number */
	MOCK_FTDI,     /* 0403:6001 FT232R, serial A10K1234 */
	MOCK_CP2102,   /* 10c4:ea60, serial 0001 */
	MOCK_VEDIRECT, /* Victron VE.Direct USB cable (FTDI 0403:6015) */
};

struct mock_adapter {
	char usb_syspath[512];
	char tty_syspath[512];
	char devname[64];
};

/* Plug kind into USB socket `socket` (1..9) as tty (e.g. "ttyUSB0"), announcing it with "add". */
int mock_plug(UMockdevTestbed *tb, enum mock_kind kind, int socket, const char *tty,
	      struct mock_adapter *ret);
/*
 * The same, without a node of umockdev's making: the caller has already put
 * $UMOCKDEV_DIR/dev/<tty> in place as a symlink to a pty slave (e.g.
 * `serialbattery simulate --link $UMOCKDEV_DIR/dev/ttyUSB0`); umockdev shows
 * such a link as a character device, so the adapter talks to a simulated BMS.
 */
int mock_plug_linked(UMockdevTestbed *tb, enum mock_kind kind, int socket, const char *tty,
		     struct mock_adapter *ret);
/* Announce "remove" and delete the devices. */
void mock_unplug(UMockdevTestbed *tb, struct mock_adapter *a);

#endif
