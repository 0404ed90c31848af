/* SPDX-License-Identifier: MIT */
/*
 * Device simulators: each protocol family's BMS side, answering a driver's
 * requests from a snapshot exactly as the device does. Built as the separate
 * library sb_bms_sim, linked into the CLI (`serialbattery simulate`,
 * `decode`), the tests and the benches, never into serialbatteryd. Docs:
 * docs/SIMULATOR.md.
 */
#ifndef SB_BMS_SIM_H
#define SB_BMS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bms/bms.h"

struct bms_sim {
	const char *name; /* the driver it answers: bms_driver.name */
	/*
	 * Answer req[0..req_len) as the device at `address` would, from snap.
	 * Writes the reply (possibly several frames) to out and returns its
	 * length, 0 when the device stays silent (not addressed to it, unknown
	 * command), or a negative errno. A write the device accepts changes snap
	 * (e.g. a FET switched off shows in the next poll). No I/O.
	 */
	int (*respond)(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
		       size_t req_len, uint8_t *out, size_t cap);
};

/* The registry, keyed by driver name: NULL-terminated (bms/sim/registry.c). */
extern const struct bms_sim *const bms_sims[];
const struct bms_sim *bms_sim_find(const char *name);

/* The simulator of drv answers req; -ENOENT when drv has none. */
int bms_sim_respond(const struct bms_driver *drv, struct bms_snapshot *snap, uint8_t address,
		    const uint8_t *req, size_t req_len, uint8_t *out, size_t cap);

/*
 * Daly: one exchange of a second master on the bus (a Daly display or WiFi
 * module, host address 0x80): its n-th request (it polls 0x90..0x98 in turn,
 * data zero) followed by board's reply from snap, as they appear on the line.
 * Returns the bytes written to out, or a negative errno. For tests that put
 * such traffic between the driver's own exchanges (bms/sim/daly.c).
 */
int bms_sim_daly_second_master(struct bms_snapshot *snap, uint8_t board, unsigned n, uint8_t *out,
			       size_t cap);

/*
 * The JBD simulator's factory mode (bms/sim/jbd.c): whether the unit
 * answering from dev is in it now, i.e. entered (register 0x00) and not yet
 * left (register 0x01). A test asserts a sequence always leaves it.
 */
bool bms_sim_jbd_factory_mode(const struct bms_snapshot *dev);

#endif
