/* SPDX-License-Identifier: MIT */
/*
 * KS48100 device simulator: the DR-1363 simulator (bms/sim/dr1363.c), '>'
 * and CID1 0x42. It answers with '>' too (no capture says which SOI a real
 * pack answers with; the driver takes either).
 */
#include "dr1363_sim.h"

static const struct bms_dr1363_family ks_sim_family = {
	.name = "ks48100",
	.soi = '>',
	.cid1 = 0x42,
};

static int ks_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			  size_t req_len, uint8_t *out, size_t cap)
{
	return bms_sim_dr1363_respond(&ks_sim_family, snap, address, req, req_len, out, cap);
}

const struct bms_sim bms_sim_ks48100 = {"ks48100", ks_sim_respond};
