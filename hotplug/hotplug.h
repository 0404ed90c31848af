/* SPDX-License-Identifier: MIT */
/*
 * USB serial adapter discovery.
 *
 * Two layers:
 *  - pure: hotplug_port_match() decides "claim" or "ignore" for one tty from
 *    its udev properties and the config; hotplug_identity() names the adapter
 *    so a battery keeps its identity whatever ttyUSB number it gets. No I/O,
 *    tested with plain tables.
 *  - libudev: a watch that enumerates existing tty devices, then reports
 *    add/remove from a udev monitor through the same callback (one code path
 *    for devices present at start and devices plugged later).
 */
#ifndef SB_HOTPLUG_H
#define SB_HOTPLUG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* The `udev` config section. */
struct hotplug_config {
	bool claim_usb;           /* claim every USB serial adapter not excluded */
	struct cfg_slist include; /* rules: always claim (Victron interfaces excepted) */
	struct cfg_slist exclude; /* rules: never claim */
};
extern const struct cfg_key hotplug_cfg_keys[];
int hotplug_config_validate(const void *section, struct cfg_invalid *err);

/*
 * The udev properties of one tty device that matter to us. NULL or "" means
 * absent. Strings are borrowed (from libudev or a test table).
 */
struct hotplug_props {
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

enum hotplug_verdict {
	HOTPLUG_IGNORE = 0,
	HOTPLUG_CLAIM = 1,
};

/*
 * A port the config names explicitly (one serial.ports entry), as plain
 * strings: the matcher needs nothing else of the worker's settings, which
 * the supervisor keeps. NULL or "" means not given. Strings are borrowed.
 */
struct hotplug_pin {
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
enum hotplug_verdict hotplug_port_match(const struct hotplug_props *p,
					const struct hotplug_config *cfg,
					const struct hotplug_pin *pins, size_t npins,
					const char **ret_reason);

/* True when rule (see hotplug_config_validate for the forms) matches p. */
bool hotplug_rule_match(const char *rule, const struct hotplug_props *p);
/* 0 when rule is well-formed, else -EINVAL. */
int hotplug_rule_check(const char *rule);

/* True for Victron's own USB interfaces (VE.Direct cable, MK2/MK3-USB, ...). */
bool hotplug_is_victron(const struct hotplug_props *p);

/*
 * The adapter's identity: ID_SERIAL (plus "-if<N>" for interfaces other
 * than 00 of multi-port adapters) when the adapter has a serial number,
 * else "path-" ID_PATH, else the device node's basename. Adapters without
 * a serial number (CH340) report an ID_SERIAL made of vendor and model only,
 * identical for every such adapter; ID_PATH (the USB socket) is the only
 * stable name they have. Returns 0 or -ENAMETOOLONG.
 */
int hotplug_identity(const struct hotplug_props *p, char *buf, size_t len);
/* The identity by USB socket alone (used when two adapters share a serial). */
int hotplug_identity_by_path(const struct hotplug_props *p, char *buf, size_t len);

/* ---- libudev watch ---- */

enum hotplug_action {
	HOTPLUG_ADD = 1,
	HOTPLUG_REMOVE = 2,
};

/* Called for every tty device present at hotplug_watch_enumerate() and every later add/remove. */
typedef void (*hotplug_event_fn)(void *ctx, enum hotplug_action action,
				 const struct hotplug_props *p);

struct hotplug_watch;

/* Open libudev and a monitor for subsystem tty (not yet enumerated). */
int hotplug_watch_new(struct hotplug_watch **ret);
void hotplug_watch_free(struct hotplug_watch *w); /* accepts NULL */
/* The monitor's fd: poll it for POLLIN, then call hotplug_watch_dispatch(). */
int hotplug_watch_fd(const struct hotplug_watch *w);
/* Report every existing tty device with a device node as HOTPLUG_ADD. */
int hotplug_watch_enumerate(struct hotplug_watch *w, hotplug_event_fn fn, void *ctx);
/* Drain pending monitor events, reporting add and remove (other actions ignored). */
int hotplug_watch_dispatch(struct hotplug_watch *w, hotplug_event_fn fn, void *ctx);

#endif
