/* SPDX-License-Identifier: MIT */
/* Charge control (first commit: safe stubs, CCL = DCL = 0, CVL invalid). */
#include "charge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void charge_state_init(struct charge_state *st)
{
	memset(st, 0, sizeof(*st));
}

void charge_step(const struct charge_config *cfg, const struct bms_snapshot *snap,
		 uint64_t data_age_ms, struct charge_state *st, uint64_t now_ms,
		 struct charge_result *out)
{
	(void)cfg;
	(void)snap;
	(void)data_age_ms;
	st->last_now_ms = now_ms;
	memset(out, 0, sizeof(*out));
	snprintf(out->mode, sizeof(out->mode), "Init");
}

int charge_state_format(const struct charge_state *st, char *buf, size_t len)
{
	int n = snprintf(buf, len, "mode=%s\n", st->float_mode ? "float" : "bulk");
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int charge_state_parse(struct charge_state *st, const char *text, uint64_t now_ms)
{
	(void)now_ms;
	if (strstr(text, "mode=float"))
		st->float_mode = true;
	return 0;
}
