/* SPDX-License-Identifier: MIT */
/* bms/cycle.c: when the core asks a static step, and what it carries. */
#include <string.h>

#include "bms/bms.h"
#include "tests/support/cunit_main.h"

static const struct bms_step steps[] = {
	{0},                                                          /* a plain step */
	{.flags = BMS_STEP_STATIC, .every = 4, .fills = BMS_V_MODEL}, /* never refreshed */
	{.flags = BMS_STEP_STATIC, .every = 4, .refresh = 10, .fills = BMS_V_SERIAL},
};
static const struct bms_driver drv = {.name = "cycle-test", .steps = steps, .nsteps = 3};

/* Cycles 1..n in which step is asked, as a bit mask (bit c-1 = cycle c). */
static uint32_t asked(unsigned step, unsigned held_from)
{
	struct bms_held h;
	bms_held_reset(&h);
	struct bms_snapshot snap;
	memset(&snap, 0, sizeof(snap));
	snap.valid = BMS_V_MODEL | BMS_V_SERIAL;
	uint32_t mask = 0;
	for (unsigned c = 1; c <= 32; c++) {
		CU_ASSERT_EQUAL(bms_held_next_cycle(&h), c);
		if (bms_step_due(&drv, step, &h)) {
			mask |= 1u << (c - 1);
			if (c >= held_from) /* the BMS answers from this cycle on */
				bms_held_keep(&drv, step, &h, &snap);
		}
	}
	return mask;
}

static void test_static_steps(void)
{
	/* a plain step: every cycle */
	CU_ASSERT_EQUAL(asked(0, 1), 0xFFFFFFFFu);
	/* static, answered at once: cycle 1 only, never again */
	CU_ASSERT_EQUAL(asked(1, 1), 1u);
	/* static, silent until cycle 8: cycles 1, 4, 8 (every 4th while missing), then never */
	CU_ASSERT_EQUAL(asked(1, 8), (1u << 0) | (1u << 3) | (1u << 7));
	/* with a refresh: held at cycle 1, then every 10th cycle again */
	CU_ASSERT_EQUAL(asked(2, 1), (1u << 0) | (1u << 9) | (1u << 19) | (1u << 29));
}

/* Held fields are carried into a later cycle's snapshot, and win. */
static void test_carry(void)
{
	struct bms_held h;
	bms_held_reset(&h);
	bms_held_next_cycle(&h);
	struct bms_snapshot a;
	memset(&a, 0, sizeof(a));
	a.valid = BMS_V_MODEL | BMS_V_VOLTAGE;
	strcpy(a.model, "UP16S-1");
	a.voltage_mv = 53000;
	bms_held_keep(&drv, 1, &h, &a);
	struct bms_snapshot b;
	memset(&b, 0, sizeof(b));
	b.valid = BMS_V_VOLTAGE;
	b.voltage_mv = 52000;
	bms_held_apply(&h, &b);
	CU_ASSERT(b.valid & BMS_V_MODEL);
	CU_ASSERT_STRING_EQUAL(b.model, "UP16S-1");
	CU_ASSERT_EQUAL(b.voltage_mv, 52000); /* not a field of the static step */
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"static steps: when asked", test_static_steps},
		{"held fields carried", test_carry},
		{NULL, NULL},
	};
	return sb_add_suite("cycle", tests);
}
