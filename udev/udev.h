/* SPDX-License-Identifier: MIT */
/*
 * USB serial adapter discovery.
 *
 * Two layers:
 *  - pure: udev_port_match() decides "claim" or "ignore" for one tty from
 *    its udev properties and the config; udev_identity() names the adapter
 *    so a battery keeps its identity whatever ttyUSB number it gets. No I/O,
 *    tested with plain tables.
 *  - libudev: a watch that enumerates existing tty devices, then reports
 *    add/remove from a udev monitor through the same callback (one code path
 *    for devices present at start and devices plugged later).
 */
#ifndef SB_UDEV_H
#define SB_UDEV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* The `udev` config section. */
struct udev_config {
	bool claim_usb;           /* claim every USB serial adapter not excluded */
	struct cfg_slist include; /* rules: always claim (Victron interfaces excepted) */
	struct cfg_slist exclude; /* rules: never claim */
};
extern const struct cfg_key udev_cfg_keys[];
int udev_config_validate(const void *section, struct cfg_invalid *err);

/*
 * The udev properties of one tty device that matter to us. NULL or "" means
 * absent. Strings are borrowed (from libudev or a test table).
 */
struct udev_props {
	const char *devname;      /* DEVNAME: /dev/ttyUSB0 */
	const char *id_bus;       /* ID_BUS: "usb" for USB adapters */
	const char *vendor_id;    /* ID_VENDOR_ID: "1a86" */
	const char *model_id;     /* ID_MODEL_ID: "7523" */
	const char *vendor;       /* ID_VENDOR: "VictronEnergy_BV" */
	const char *model;        /* ID_MODEL: "VE_Direct_cable" */
	const char *serial;       /* ID_SERIAL: "FTDI_FT232R_USB_UART_A10K1234" */
	const char *serial_short; /* ID_SERIAL_SHORT: only when the adapter has a serial number */
	const char *iface_num;    /* ID_USB_INTERFACE_NUM: "00" */
	const char *path;         /* ID_PATH: "platform-xhci-hcd.0-usb-0:1.2:1.0" */
	const char *ve_service;   /* VE_SERVICE: Venus OS serial-starter assignment */
	const char *sb_claim;     /* SERIALBATTERY: "claim" or "ignore" (our udev rule) */
};

enum udev_verdict {
	UDEV_IGNORE = 0,
	UDEV_CLAIM = 1,
};

/*
 * A port the config names explicitly (one serial.ports entry), as plain
 * strings: the matcher needs nothing else of the worker's settings, which
 * the supervisor keeps. NULL or "" means not given. Strings are borrowed.
 */
struct udev_pin {
	const char *path;  /* device node, compared with DEVNAME */
	const char *match; /* compared with ID_SERIAL and ID_PATH */
};

/*
 * Decide whether we own this port. pins (npins entries, may be NULL when 0)
 * claim the port whatever else says when one's path equals DEVNAME or its
 * match equals ID_SERIAL / ID_PATH. *ret_reason (when not NULL) gets a
 * static sentence for the log. Order, first hit wins:
 *   1. listed in serial.ports                     -> claim
 *   2. udev.exclude rule                          -> ignore
 *   3. SERIALBATTERY=ignore / claim (udev rule)   -> ignore / claim
 *   4. a Victron interface (VE.Direct, MK2/MK3)   -> ignore
 *   5. VE_SERVICE names another service           -> ignore
 *   6. udev.include rule                          -> claim
 *   7. claim_usb and ID_BUS=usb                   -> claim
 *   8. otherwise                                  -> ignore
 */
enum udev_verdict udev_port_match(const struct udev_props *p, const struct udev_config *cfg,
				  const struct udev_pin *pins, size_t npins, const char **ret_reason);

/* True when rule (see udev_config_validate for the forms) matches p. */
bool udev_rule_match(const char *rule, const struct udev_props *p);
/* 0 when rule is well-formed, else -EINVAL. */
int udev_rule_check(const char *rule);

/* True for Victron's own USB interfaces (VE.Direct cable, MK2/MK3-USB, ...). */
bool udev_is_victron(const struct udev_props *p);

/*
 * The adapter's identity: ID_SERIAL (plus "-if<N>" for interfaces other
 * than 00 of multi-port adapters) when the adapter has a serial number,
 * else "path-" ID_PATH, else the device node's basename. Adapters without
 * a serial number (CH340) report an ID_SERIAL made of vendor and model only,
 * identical for every such adapter; ID_PATH (the USB socket) is the only
 * stable name they have. Returns 0 or -ENAMETOOLONG.
 */
int udev_identity(const struct udev_props *p, char *buf, size_t len);
/* The identity by USB socket alone (used when two adapters share a serial). */
int udev_identity_by_path(const struct udev_props *p, char *buf, size_t len);

/* ---- libudev watch ---- */

enum udev_action {
	UDEV_ADD = 1,
	UDEV_REMOVE = 2,
};

/* Called for every tty device present at udev_watch_enumerate() and for every later add/remove. */
typedef void (*udev_event_fn)(void *ctx, enum udev_action action, const struct udev_props *p);

struct udev_watch;

/* Open libudev and a monitor for subsystem tty (not yet enumerated). */
int udev_watch_new(struct udev_watch **ret);
void udev_watch_free(struct udev_watch *w); /* accepts NULL */
/* The monitor's fd: poll it for POLLIN, then call udev_watch_dispatch(). */
int udev_watch_fd(const struct udev_watch *w);
/* Report every existing tty device with a device node as UDEV_ADD. */
int udev_watch_enumerate(struct udev_watch *w, udev_event_fn fn, void *ctx);
/* Drain pending monitor events, reporting add and remove (other actions ignored). */
int udev_watch_dispatch(struct udev_watch *w, udev_event_fn fn, void *ctx);

#endif
