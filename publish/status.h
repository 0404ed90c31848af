/* SPDX-License-Identifier: MIT */
/*
 * Reading battery services back like any Venus client (GetItems on "/"), for
 * `serialbattery status`. Lives in publish/ because only publish/ talks D-Bus.
 */
#ifndef SB_PUBLISH_STATUS_H
#define SB_PUBLISH_STATUS_H

#include <stddef.h>

#include "bms/bms.h"

struct publish_status {
	char service[160];
	char product[128];
	char custom_name[128];
	int instance;  /* -1 when invalid */
	int connected; /* -1 when invalid */
	/* NAN when invalid */
	double voltage, current, power, soc, cvl, ccl, dcl, min_cell, max_cell;
	double implausible; /* /Link/ImplausibleCycles: cycles dropped as implausible */
	double foreign;     /* /Link/ForeignFrames: frames for someone else on a shared line */
	double polls; /* /Link/PollCycles: current in GetItems, though signalled once a minute */
	double prot_events[BMS_PROT_COUNT]; /* /Bms/ProtectionEvents/..., enum bms_prot order */
	char min_cell_id[16], max_cell_id[16];
};

/*
 * List the com.victronenergy.battery.* services on the bus (NULL: system
 * bus), sorted by name. Returns the number found (at most cap filled) or a
 * negative errno.
 */
int publish_status_list(const char *address, struct publish_status *out, size_t cap);

/*
 * Remove offline packs from the bank: SetValue on the aggregate's
 * /Bank/Forget (what: a pack number, identity, tty or "offline" for all).
 * 0 done, -ENOENT refused (no offline pack by that name), -ESRCH no bank
 * service, other negative errno when the bus cannot be reached.
 */
int publish_bank_forget(const char *address, const char *what);

/*
 * `serialbattery set`: the battery service `what` means (its whole name, its
 * tty, or the tty of an addressed pack, "ttyUSB0" for ...ttyUSB0__0x01).
 * 0 and its name, -ENOENT none, -EEXIST more than one, other negative errno
 * when the bus cannot be reached.
 */
int publish_battery_find(const char *address, const char *what, char *ret, size_t len);

/*
 * One write to a battery service's /Settings path, the way any client does
 * it (SetValue), then waited for: the service counts every write it
 * finishes in /Link/Writes and the failed ones in /Link/WriteErrors, with
 * the reason in /Settings/LastWriteError. pre_path (may be NULL) is set
 * first without waiting (ResetSocTo before ResetSocToApply). Another client
 * writing to the same pack at the same moment can be taken for ours.
 */
struct publish_write {
	const char *service;
	const char *path;
	int32_t value;
	const char *pre_path;
	int32_t pre_value;
	const char *show_path; /* read back once done: what the BMS then reports */
	unsigned timeout_ms;
};
struct publish_write_result {
	double shown;    /* show_path's value once done (NAN invalid) */
	char error[160]; /* the service's reason when refused */
};
/*
 * 0 done (*ret: shown), -EPERM refused (now or by the BMS: *ret: error),
 * -ETIMEDOUT no outcome within timeout_ms, -ENOENT the service has no such
 * path (its BMS protocol has no such write), -ESRCH no such service, other
 * negative errno when the bus cannot be reached.
 */
int publish_write_wait(const char *address, const struct publish_write *w,
		       struct publish_write_result *ret);

#endif
