/* SPDX-License-Identifier: MIT */
/*
 * The one ordered driver table, from the list in bms/registry.h.
 */
#include <string.h>

#include "registry.h"

#define ENTRY(n) &bms_##n,
const struct bms_driver *const bms_drivers[] = {BMS_DRIVER_LIST(ENTRY) NULL};
#undef ENTRY

/*
 * Names a driver had before, still accepted in configs and remembered-protocol
 * files written by older versions: "jbdup16s" is jbd_up16s.
 */
static const struct {
	const char *old, *name;
} aliases[] = {
	{"jbdup16s", "jbd_up16s"},
};

const struct bms_driver *bms_driver_find(const char *name)
{
	for (size_t k = 0; k < sizeof(aliases) / sizeof(aliases[0]); k++)
		if (strcmp(name, aliases[k].old) == 0)
			name = aliases[k].name;
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

const struct bms_link *bms_driver_serial(const struct bms_driver *drv)
{
	for (size_t i = 0; i < drv->nlinks; i++)
		if (drv->links[i].kind == BMS_LINK_SERIAL)
			return &drv->links[i];
	return NULL;
}

const uint32_t *bms_driver_bauds(const struct bms_driver *drv)
{
	static const uint32_t none[] = {0};
	const struct bms_link *l = bms_driver_serial(drv);
	return l && l->serial.bauds ? l->serial.bauds : none;
}

enum bms_framing bms_driver_framing(const struct bms_driver *drv)
{
	const struct bms_link *l = bms_driver_serial(drv);
	return l ? l->serial.framing : BMS_8N1;
}

static bool lists(const struct bms_driver *drv, enum bms_command cmd)
{
	for (const enum bms_command *c = drv->commands; c && *c; c++)
		if (*c == cmd)
			return cmd != BMS_CMD_NONE;
	return false;
}

bool bms_driver_supports(const struct bms_driver *drv, enum bms_command cmd)
{
	if (lists(drv, cmd))
		return true;
	return cmd == BMS_CMD_STANDBY && lists(drv, BMS_CMD_CHARGE_FET) &&
	       lists(drv, BMS_CMD_DISCHARGE_FET);
}

bool bms_driver_can_set(const struct bms_driver *drv)
{
	return drv->commands && drv->commands[0] != BMS_CMD_NONE;
}
