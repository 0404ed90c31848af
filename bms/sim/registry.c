/* SPDX-License-Identifier: MIT */
/* The simulators, keyed by driver name: one line per family. */
#include <errno.h>
#include <string.h>

#include "sim.h"

extern const struct bms_sim bms_sim_jk;
extern const struct bms_sim bms_sim_jkpb;
extern const struct bms_sim bms_sim_jbd;
extern const struct bms_sim bms_sim_daly;
extern const struct bms_sim bms_sim_jbd_up16s;

const struct bms_sim *const bms_sims[] = {
	&bms_sim_jk,
	&bms_sim_jkpb,
	&bms_sim_jbd,
	&bms_sim_daly,
	&bms_sim_jbd_up16s,
	NULL,
};

const struct bms_sim *bms_sim_find(const char *name)
{
	for (size_t i = 0; name && bms_sims[i]; i++)
		if (strcmp(bms_sims[i]->name, name) == 0)
			return bms_sims[i];
	return NULL;
}

int bms_sim_respond(const struct bms_driver *drv, struct bms_snapshot *snap, uint8_t address,
		    const uint8_t *req, size_t req_len, uint8_t *out, size_t cap)
{
	const struct bms_sim *s = drv ? bms_sim_find(drv->name) : NULL;
	if (!s)
		return -ENOENT;
	return s->respond(snap, address, req, req_len, out, cap);
}
