/* SPDX-License-Identifier: MIT */
/*
 * The one ordered driver table. Order = detection order within a baud group:
 * most used first, unique checksummed headers before generic Modbus, opt-in
 * drivers last (only tried when named in the config).
 */
#include <string.h>

#include "bms.h"

/* extern declarations: one line per driver */
extern const struct bms_driver bms_jk;
extern const struct bms_driver bms_jkpb;
extern const struct bms_driver bms_jbd;
extern const struct bms_driver bms_daly;
extern const struct bms_driver bms_jbdup16s;

const struct bms_driver *const bms_drivers[] = {
	/* one line per driver, in detection order */
	&bms_jk,
	&bms_jkpb,
	&bms_jbd,
	&bms_daly,
	&bms_jbdup16s,
	NULL,
};

const struct bms_driver *bms_driver_find(const char *name)
{
	for (size_t i = 0; bms_drivers[i]; i++)
		if (strcmp(bms_drivers[i]->name, name) == 0)
			return bms_drivers[i];
	return NULL;
}

size_t bms_driver_count(void)
{
	size_t n = 0;
	while (bms_drivers[n])
		n++;
	return n;
}
