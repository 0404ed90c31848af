/* SPDX-License-Identifier: MIT */
#include "remember.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/statefile.h"

/* "detect/<identity>", unsafe characters replaced: relative to the state dir. */
static int remember_rel(const char *state_dir, const char *identity, char *buf, size_t len)
{
	if (!state_dir || !state_dir[0] || !identity || !identity[0])
		return -EINVAL;
	char name[160];
	size_t i;
	for (i = 0; identity[i] && i < sizeof(name) - 1; i++) {
		char ch = identity[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
			  (ch == '.' && i > 0);
		name[i] = ok ? ch : '_';
	}
	name[i] = '\0';
	int n = snprintf(buf, len, "detect/%s", name);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int worker_remember_load(const char *state_dir, const char *identity,
			 const struct bms_driver **ret_drv, uint32_t *ret_baud,
			 uint8_t *ret_address)
{
	char rel[200];
	int r = remember_rel(state_dir, identity, rel, sizeof(rel));
	if (r < 0)
		return r;
	char text[96];
	r = statefile_read(state_dir, rel, text, sizeof(text), NULL);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	char name[32];
	unsigned baud, addr;
	if (sscanf(text, "%31s %u %u", name, &baud, &addr) != 3 || addr > 255)
		return -EINVAL;
	const struct bms_driver *drv = bms_driver_find(name);
	if (!drv)
		return -ENOENT;
	*ret_drv = drv;
	*ret_baud = baud;
	*ret_address = (uint8_t)addr;
	return 0;
}

int worker_remember_save(const char *state_dir, const char *identity, const struct bms_driver *drv,
			 uint32_t baud, uint8_t address)
{
	const struct bms_driver *old;
	uint32_t ob;
	uint8_t oa;
	/* Flash on a GX device is precious: write only what changed. */
	if (worker_remember_load(state_dir, identity, &old, &ob, &oa) == 0 && old == drv &&
	    ob == baud && oa == address)
		return 0;
	char rel[200];
	int r = remember_rel(state_dir, identity, rel, sizeof(rel));
	if (r < 0)
		return r;
	char text[96];
	int n = snprintf(text, sizeof(text), "%s %u %u\n", drv->name, baud, address);
	return statefile_write(state_dir, rel, text, (size_t)n);
}
