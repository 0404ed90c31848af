/* SPDX-License-Identifier: MIT */
/* The charge section's defaults, loaded through the real config table (charge tests). */
#ifndef SB_TEST_CHARGE_FIXTURE_H
#define SB_TEST_CHARGE_FIXTURE_H

#include <string.h>

#include "charge/charge.h"
#include "tests/support/cunit_main.h"

static inline struct charge_config charge_test_defaults(void)
{
	static const struct cfg_section sections[] = {
		{.name = "charge",
		 .keys = charge_cfg_keys,
		 .offset = 0,
		 .validate = charge_config_validate},
		{NULL},
	};
	static const struct cfg_schema schema = {.sections = sections};
	struct charge_config c;
	struct cfg_error e;
	memset(&c, 0, sizeof(c));
	CU_ASSERT_FATAL(cfg_defaults(&schema, &c, &e) == 0);
	return c;
}

#endif
