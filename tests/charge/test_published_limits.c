/* SPDX-License-Identifier: MIT */
/*
 * What charge/ computes as it reaches the battery's paths: limits rounded
 * down to the published 0.01 (never above what was computed), and /State,
 * /Mode meaning running from the first snapshot and through a short comms
 * loss. A real path tree from publish/, no bus: nothing here is sent.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "charge/charge.h"
#include "publish/paths.h"
#include "tests/charge/charge_fixture.h"
#include "tests/support/cunit_main.h"

#define S(x) ((uint64_t)((x)*1000.0)) /* seconds -> ms */

static struct publish_tree *tree(void)
{
	struct publish_tree *t = NULL;
	CU_ASSERT_FATAL(publish_tree_new(NULL, NULL, &t) == 0);
	CU_ASSERT_FATAL(publish_paths_build(t, 16, false) == 0);
	return t;
}

static double get_d(struct publish_tree *t, const char *path)
{
	struct publish_item *it = publish_tree_find(t, path);
	CU_ASSERT_FATAL(it != NULL);
	CU_ASSERT(it->valid);
	return it->d;
}

static int32_t get_i(struct publish_tree *t, const char *path)
{
	struct publish_item *it = publish_tree_find(t, path);
	CU_ASSERT_FATAL(it != NULL);
	CU_ASSERT(it->valid);
	return it->i;
}

static void test_round_down(void)
{
	struct publish_tree *t = tree();
	static const struct {
		double in, out;
	} cases[] = {
		{51.825, 51.82}, {12.355, 12.35}, {55.2, 55.2}, {54.55, 54.55},     {0.009, 0.0},
		{60.0, 60.0},    {49.999, 49.99}, {0.01, 0.01}, {53.999999, 53.99},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct charge_result r;
		memset(&r, 0, sizeof(r));
		r.cvl_valid = true;
		r.cvl_v = r.ccl_a = r.dcl_a = cases[i].in;
		publish_paths_limits(t, &r, true);
		double v = get_d(t, "/Info/MaxChargeVoltage");
		if (v != cases[i].out)
			fprintf(stderr, "\n%.6f published as %.17g, want %.2f\n", cases[i].in, v,
				cases[i].out);
		CU_ASSERT(v == cases[i].out);
		CU_ASSERT(get_d(t, "/Info/MaxChargeCurrent") == cases[i].out);
		CU_ASSERT(get_d(t, "/Info/MaxDischargeCurrent") == cases[i].out);
	}
	/* every whole 0.01 from 0 to 1000 stays itself (no 55.19 for 55.2),
	 * and the last thousandth below the next step never rounds up */
	unsigned bad = 0;
	for (int k = 0; k <= 100000; k++) {
		struct charge_result r;
		memset(&r, 0, sizeof(r));
		r.cvl_valid = true;
		r.cvl_v = k / 100.0;
		r.ccl_a = (double)(k * 10 + 9) / 1000.0;
		publish_paths_limits(t, &r, true);
		if (get_d(t, "/Info/MaxChargeVoltage") != k / 100.0 ||
		    get_d(t, "/Info/MaxChargeCurrent") != k / 100.0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	publish_tree_free(t);
}

static void fill(struct publish_tree *t, const struct bms_snapshot *s,
		 const struct charge_result *r)
{
	struct store_record rec;
	memset(&rec, 0, sizeof(rec));
	rec.snap = *s;
	struct publish_history h;
	memset(&h, 0, sizeof(h));
	publish_paths_fill(t, &rec, r, &h, true);
}

static void test_state_mode(void)
{
	struct charge_config c = charge_test_defaults();
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct publish_tree *t = tree();
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS;
	s.cell_count = 16;
	for (int i = 0; i < 16; i++)
		s.cell_mv[i] = 3300;
	s.temp_count = 1;
	s.temp_dc[0] = 250;
	s.charge_fet = s.discharge_fet = true;

	/* the first snapshot: running, with the full limits */
	charge_step(&c, &s, 0, &st, S(1), &r);
	fill(t, &s, &r);
	CU_ASSERT_EQUAL(get_i(t, "/State"), 9);
	CU_ASSERT_EQUAL(get_i(t, "/Mode"), 3);
	CU_ASSERT(get_d(t, "/Info/MaxChargeCurrent") == 50.0);
	CU_ASSERT(get_d(t, "/Info/MaxDischargeCurrent") == 60.0);
	CU_ASSERT_EQUAL(get_i(t, "/Io/AllowToCharge"), 1);
	CU_ASSERT_EQUAL(get_i(t, "/Io/AllowToDischarge"), 1);

	/* 15 s without data: still running on the held DCL, charging stopped */
	charge_step(&c, &s, S(15), &st, S(16), &r);
	fill(t, &s, &r);
	CU_ASSERT_EQUAL(get_i(t, "/State"), 9);
	CU_ASSERT_EQUAL(get_i(t, "/Mode"), 3);
	CU_ASSERT(get_d(t, "/Info/MaxChargeCurrent") == 0.0);
	CU_ASSERT(get_d(t, "/Info/MaxDischargeCurrent") == 30.0);
	CU_ASSERT_EQUAL(get_i(t, "/Io/AllowToCharge"), 0);
	CU_ASSERT_EQUAL(get_i(t, "/Io/AllowToDischarge"), 1);
	CU_ASSERT_EQUAL(get_i(t, "/Alarms/BmsCable"), 2);

	/* the rules compute 0 both ways (-20 degC): standby */
	s.temp_dc[0] = -200;
	charge_step(&c, &s, 0, &st, S(17), &r);
	fill(t, &s, &r);
	CU_ASSERT_EQUAL(get_i(t, "/State"), 14);
	CU_ASSERT_EQUAL(get_i(t, "/Mode"), 4);
	publish_tree_free(t);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"limits rounded down", test_round_down},
		{"state and mode", test_state_mode},
		{NULL, NULL},
	};
	return sb_add_suite("published limits", tests);
}
