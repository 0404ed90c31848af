/* SPDX-License-Identifier: MIT */
/* bms/stats.c: the one rule for which cells count, and the temperature extremes. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "bms/plausible.h"
#include "bms/stats.h"
#include "tests/support/cunit_main.h"

static struct bms_snapshot cells(unsigned n, uint16_t mv)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_CELLS;
	s.cell_count = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		s.cell_mv[i] = mv;
	return s;
}

static void test_cells_rule(void)
{
	struct bms_snapshot s = cells(8, 3300);
	s.cell_mv[1] = 3350;
	s.cell_mv[4] = 3250;
	s.cell_mv[7] = 3350; /* a tie: the first is named */
	struct bms_stats st;
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.cells_reported, 8);
	CU_ASSERT_EQUAL(st.cell_count, 8);
	CU_ASSERT_EQUAL(st.cell_excluded, 0);
	CU_ASSERT_EQUAL(st.cell_max_mv, 3350);
	CU_ASSERT_EQUAL(st.cell_max_idx, 1);
	CU_ASSERT_EQUAL(st.cell_min_mv, 3250);
	CU_ASSERT_EQUAL(st.cell_min_idx, 4);
	CU_ASSERT_EQUAL(st.cell_sum_mv, 5 * 3300 + 2 * 3350 + 3250);

	/* 0 (not reported), flagged, above any chemistry: none of them counts */
	s.cell_mv[0] = 0;
	s.cell_mv[2] = 3600;
	s.cell_implausible = 1u << 2;
	s.cell_mv[3] = BMS_STATS_CELL_MAX_MV + 1;
	s.cell_mv[5] = 65535;
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.cell_count, 4);
	CU_ASSERT_EQUAL(st.cell_excluded, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 5));
	CU_ASSERT_EQUAL(st.cell_max_mv, 3350);
	CU_ASSERT_EQUAL(st.cell_max_idx, 1);
	CU_ASSERT_EQUAL(st.cell_min_mv, 3250);
	CU_ASSERT_EQUAL(st.cell_sum_mv, 3300 + 2 * 3350 + 3250);
	for (unsigned i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(bms_stats_cell_counts(&s, i), !((st.cell_excluded >> i) & 1u));
	/* the ceiling itself is a reading */
	s.cell_mv[3] = BMS_STATS_CELL_MAX_MV;
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.cell_max_mv, BMS_STATS_CELL_MAX_MV);
	CU_ASSERT_EQUAL(st.cell_max_idx, 3);

	/* no BMS_V_CELLS, or cells beyond cell_count: nothing reported */
	s.valid = 0;
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.cells_reported, 0);
	CU_ASSERT_EQUAL(st.cell_count, 0);
	CU_ASSERT_FALSE(bms_stats_cell_counts(&s, 1));
	s = cells(3, 3300);
	s.cell_mv[3] = 9000; /* garbage past the count */
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.cell_count, 3);
	CU_ASSERT_EQUAL(st.cell_excluded, 0);
	s.cell_count = 200; /* clamped to the array */
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.cells_reported, BMS_MAX_CELLS);
}

/* The ceiling is no stricter than any chemistry's physical range (a real
 * cell the plausibility check accepts always counts) and no looser than the
 * widest one. */
static void test_ceiling_matches_chemistries(void)
{
	unsigned widest = 0;
	for (unsigned c = 0; c < BMS_CHEM_COUNT; c++) {
		struct bms_cell_range r = bms_chemistry_cell_range((enum bms_chemistry)c);
		if (r.max_mv > widest)
			widest = r.max_mv;
		CU_ASSERT(r.min_mv > 0);
	}
	CU_ASSERT_EQUAL(BMS_STATS_CELL_MAX_MV, widest);
}

static void test_temps(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	struct bms_stats st;
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.temp_count, 0);
	s.valid = BMS_V_TEMPS | BMS_V_MOSFET_TEMP;
	s.temp_count = 4;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = -51;
	s.temp_dc[2] = 301;
	s.temp_dc[3] = -51;
	s.mosfet_temp_dc = 900; /* not a battery sensor */
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.temp_count, 4);
	CU_ASSERT_EQUAL(st.temp_min_dc, -51);
	CU_ASSERT_EQUAL(st.temp_min_idx, 1);
	CU_ASSERT_EQUAL(st.temp_max_dc, 301);
	CU_ASSERT_EQUAL(st.temp_max_idx, 2);
	CU_ASSERT_EQUAL(st.temp_sum_dc, 250 - 51 + 301 - 51);
	s.temp_count = 50;
	bms_stats_compute(&s, &st);
	CU_ASSERT_EQUAL(st.temp_count, BMS_MAX_TEMPS);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"which cells count", test_cells_rule},
		{"ceiling = widest chemistry", test_ceiling_matches_chemistries},
		{"temperatures", test_temps},
		{NULL, NULL},
	};
	return sb_add_suite("stats", tests);
}
