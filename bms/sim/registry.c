/* SPDX-License-Identifier: MIT */
/* The simulators, keyed by driver name. */
#include <errno.h>
#include <string.h>

#include "sim.h"

/*
 * Optional, one line each: a family with a simulator in bms/sim/<name>.c
 * (symbol bms_sim_<name>) can be played by `serialbattery simulate` and the
 * round-trip tests. CMake builds every .c in bms/sim/.
 */
#define BMS_SIM_LIST(X)                                                                            \
	X(jk)                                                                                      \
	X(jkpb)                                                                                    \
	X(jbd)                                                                                     \
	X(daly)                                                                                    \
	X(jbd_up16s)                                                                               \
	X(pace)                                                                                    \
	X(pylontech)                                                                               \
	X(daren)                                                                                   \
	X(ks48100)                                                                                 \
	X(seplos_v2)                                                                               \
	X(seplos_v3)                                                                               \
	X(ant_2021)                                                                                \
	X(ant_legacy)                                                                              \
	X(eg4_lifepower)                                                                           \
	X(felicity)                                                                                \
	X(heltec)                                                                                  \
	X(ecs)                                                                                     \
	X(renogy)                                                                                  \
	X(eg4_ll)                                                                                  \
	X(hlpdata)                                                                                 \
	X(sinowealth)

#define DECLARE(n) extern const struct bms_sim bms_sim_##n;
BMS_SIM_LIST(DECLARE)
#undef DECLARE

#define ENTRY(n) &bms_sim_##n,
const struct bms_sim *const bms_sims[] = {BMS_SIM_LIST(ENTRY) NULL};
#undef ENTRY

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
