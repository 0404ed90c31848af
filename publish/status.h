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

#endif
