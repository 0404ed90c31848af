/* SPDX-License-Identifier: MIT */
/* The `udev` config section: which serial adapters the daemon claims. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "hotplug/hotplug.h"

const struct cfg_key hotplug_cfg_keys[] = {
	{.path = "claim_usb",
	 .type = CFG_BOOL,
	 .offset = offsetof(struct hotplug_config, claim_usb),
	 .def = "true",
	 .doc = "Claim every USB serial adapter that no exclude rule, VE_SERVICE assignment or "
		"Victron product string reserves for someone else. Off: only include rules, "
		"serial.ports and the SERIALBATTERY=claim udev property claim ports."},
	{.path = "include",
	 .type = CFG_STRING_LIST,
	 .offset = offsetof(struct hotplug_config, include),
	 .doc = "Rules for ports to claim even with claim_usb off: \"1a86:7523\" (USB "
		"vendor:product, product may be *), \"serial=GLOB\" (ID_SERIAL), \"path=GLOB\" "
		"(ID_PATH), \"vendor=GLOB\", \"model=GLOB\" (ID_VENDOR/ID_MODEL, any case) or a "
		"device glob \"/dev/ttyUSB*\". Victron interfaces are never included."},
	{.path = "exclude",
	 .type = CFG_STRING_LIST,
	 .offset = offsetof(struct hotplug_config, exclude),
	 .doc = "Rules (same forms as include) for ports never to claim; they win over include "
		"and claim_usb, not over an explicit serial.ports entry."},
	{NULL},
};

static int check_list(const struct cfg_slist *l, const char *key, struct cfg_invalid *err)
{
	for (unsigned i = 0; i < l->n; i++) {
		if (hotplug_rule_check(l->v[i]) < 0) {
			char ekey[32];
			snprintf(ekey, sizeof(ekey), "%s[%u]", key, i);
			return cfg_invalid(err, ekey,
					   "rule \"%s\" is not vendor:product, serial=, path=, "
					   "vendor=, model= or /dev/...",
					   l->v[i]);
		}
	}
	return 0;
}

int hotplug_config_validate(const void *section, struct cfg_invalid *err)
{
	const struct hotplug_config *c = section;
	if (check_list(&c->include, "include", err) < 0)
		return -EINVAL;
	return check_list(&c->exclude, "exclude", err);
}
