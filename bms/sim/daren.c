/* SPDX-License-Identifier: MIT */
/* Daren device simulator: the DR-1363 simulator (bms/sim/dr1363.c), '~' and CID1 0x4A. */
#include "dr1363_sim.h"

static const struct bms_dr1363_family daren_sim_family = {
	.name = "daren",
	.soi = '~',
	.cid1 = 0x4A,
	.realtime_info = true,
};

static int daren_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			     size_t req_len, uint8_t *out, size_t cap)
{
	return bms_sim_dr1363_respond(&daren_sim_family, snap, address, req, req_len, out, cap);
}

const struct bms_sim bms_sim_daren = {"daren", daren_sim_respond};
