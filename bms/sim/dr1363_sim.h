/* SPDX-License-Identifier: MIT */
/* The DR-1363 device simulator both Daren and KS48100 play (bms/sim/dr1363.c). */
#ifndef SB_BMS_SIM_DR1363_SIM_H
#define SB_BMS_SIM_DR1363_SIM_H

#include "bms/dr1363.h"
#include "sim.h"

/* struct bms_sim.respond for the pack of family fam at ADR address. */
int bms_sim_dr1363_respond(const struct bms_dr1363_family *fam, struct bms_snapshot *snap,
			   uint8_t address, const uint8_t *req, size_t req_len, uint8_t *out,
			   size_t cap);

#endif
