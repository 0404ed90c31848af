/* SPDX-License-Identifier: MIT */
/*
 * A worker: one thread that owns one serial port. It detects which BMS
 * answers, polls it, and commits one whole snapshot per battery (per bus
 * address) per cycle to the store. The supervisor starts and stops workers;
 * nothing else creates threads.
 */
#ifndef SB_WORKER_H
#define SB_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/store.h"

#define WORKER_MAX_PORTS 16

/* One entry of the config list serial.ports. */
struct worker_port_config {
	char path[CFG_STR];         /* device path (/dev/ttyUSB0, /dev/ttyS1, a pty link) or "" */
	char match[CFG_STR];        /* udev ID_SERIAL or ID_PATH this entry applies to, or "" */
	char bms[CFG_STR];          /* "" = autodetect; else a driver name: pin the protocol */
	int64_t baud;               /* 0 = the driver's default(s) */
	struct cfg_ilist addresses; /* RS485 addresses to poll; empty = driver default */
	bool scan;                  /* discover addresses in the driver's range */
	double poll_interval;       /* seconds; 0 = the driver's default */
};

/* The `serial` config section. */
struct worker_config {
	struct worker_port_config ports[WORKER_MAX_PORTS];
	unsigned nports;
	int64_t retries;           /* request retries per step within one cycle */
	double detect_backoff_max; /* seconds between full detection rounds, cap */
	double detect_round_max;   /* seconds one detection round may take */
	int64_t redetect_after; /* failed cycles (all addresses) before a detection round; 0 = never
				 */
	int chemistry;          /* enum bms_chemistry: the cells' physical range */
};
extern const struct cfg_key worker_cfg_keys[];
/* Cross-key checks of the section: every ports[].bms names a known driver. */
int worker_config_validate(const void *section, struct cfg_invalid *err);
/* The section-wide settings (everything but the port list) are the same. */
bool worker_section_equal(const struct worker_config *a, const struct worker_config *b);
/* Same settings for one port (value by value, never padding). */
bool worker_port_config_equal(const struct worker_port_config *a,
			      const struct worker_port_config *b);

struct worker_transport_ops;

struct worker_params {
	char path[256];     /* device node to open */
	char identity[128]; /* adapter identity: udev ID_SERIAL, else ID_PATH, else path */
	struct worker_port_config port; /* effective settings for this port */
	struct worker_config serial;    /* section-wide settings */
	char state_dir[CFG_STR];        /* remembered protocols live here */
	/* charge.max_charge_current / max_discharge_current in mA (0 = none): a
	 * current far beyond them is implausible (bms/plausible.h) */
	int32_t max_charge_ma;
	int32_t max_discharge_ma;
	int notify_fd; /* eventfd written once when the thread ends by itself; -1 = none */
	/* how path is reached (worker/transport.h); NULL = a serial port */
	const struct worker_transport_ops *transport;
};

struct worker;

/* Start the thread "sb-worker:<tty without \"tty\">" (ttyUSB0 -> "sb-worker:USB0"). */
int worker_start(const struct worker_params *p, struct store *st, struct worker **ret);
/* Wake the thread and join it (returns at once if already ended). Idempotent. */
void worker_stop(struct worker *w);
/* True when the thread has ended (unplug, fatal error) and can be joined at once. */
bool worker_finished(struct worker *w);
/* Why it ended: 0 stopped on request, -ENODEV port gone, other negative errno.
 * Meaningful once worker_finished() is true or after worker_stop(). */
int worker_exit_status(struct worker *w);
/* Stop, join and free; accepts NULL. */
void worker_free(struct worker *w);

#endif
