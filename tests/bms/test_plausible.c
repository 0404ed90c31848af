/* SPDX-License-Identifier: MIT */
/* bms/plausible.c: every limit at its boundary, on both sides. */
#include <errno.h>
#include <string.h>

#include "bms/plausible.h"
#include "bms/stats.h"
#include "tests/support/cunit_main.h"

static const struct bms_plausible_limits lfp = {.chemistry = BMS_CHEM_LFP};

/* 16 cells of 3.300 V, pack = sum, everything valid and ordinary. */
static void pack(struct bms_snapshot *s, unsigned cells)
{
	memset(s, 0, sizeof(*s));
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |
		   BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CELLS | BMS_V_TEMPS |
		   BMS_V_MOSFET_TEMP;
	s->cell_count = (uint8_t)cells;
	for (unsigned i = 0; i < cells; i++)
		s->cell_mv[i] = 3300;
	s->voltage_mv = (int32_t)(3300 * cells);
	s->current_ma = -5000;
	s->soc_cpct = 5000;
	s->soh_cpct = 9800;
	s->capacity_remain_mah = 140000;
	s->capacity_full_mah = 280000;
	s->capacity_design_mah = 280000;
	s->temp_count = 2;
	s->temp_dc[0] = 215;
	s->temp_dc[1] = 220;
	s->mosfet_temp_dc = 300;
}

static enum bms_implausible chk(const struct bms_snapshot *s, const struct bms_plausible_limits *l,
				uint32_t *bad)
{
	uint32_t dummy;
	return bms_plausible_check(s, l, bad ? bad : &dummy);
}

static void test_ordinary(void)
{
	struct bms_snapshot s;
	pack(&s, 16);
	uint32_t bad = 99;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_PLAUSIBLE);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(chk(&s, NULL, NULL), BMS_PLAUSIBLE);
	memset(&s, 0, sizeof(s)); /* a parse that filled nothing */
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_NO_VOLTAGE);
	s.valid = BMS_V_VOLTAGE; /* pack voltage alone is enough when in range */
	s.voltage_mv = 53100;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
}

static void test_pack_voltage(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE;
	s.voltage_mv = 0; /* the "0 V pack" */
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_PACK_VOLTAGE);
	s.voltage_mv = 1;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.voltage_mv = BMS_PLAUSIBLE_PACK_MAX_MV;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.voltage_mv = BMS_PLAUSIBLE_PACK_MAX_MV + 1;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_PACK_VOLTAGE);
	/* with cells, 0 V is caught before the sum */
	pack(&s, 16);
	s.voltage_mv = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_PACK_VOLTAGE);
}

static void test_cell_sum(void)
{
	struct bms_snapshot s;
	/* 16 x 3.3 = 52.8 V: 5 % = 2.64 V is above the 2 V floor */
	pack(&s, 16);
	s.voltage_mv = 52800 + 2640;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.voltage_mv = 52800 + 2641;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CELL_SUM);
	s.voltage_mv = 52800 - 2640;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.voltage_mv = 52800 - 2641;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CELL_SUM);
	/* one cell's worth (3.3 V) missing on 16S is seen */
	s.voltage_mv = 52800 - 3300;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CELL_SUM);
	/* 4 x 3.3 = 13.2 V: 5 % is 0.66 V, the floor of 2 V applies */
	pack(&s, 4);
	s.voltage_mv = 13200 + 2000;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.voltage_mv = 13200 + 2001;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CELL_SUM);
	s.voltage_mv = 13200 - 2001;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CELL_SUM);
}

static void test_cell_count(void)
{
	struct bms_snapshot s;
	pack(&s, 16);
	s.cell_count = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CELL_COUNT);
	s.cell_count = BMS_MAX_CELLS + 1;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CELL_COUNT);
	pack(&s, 1);
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	pack(&s, BMS_MAX_CELLS);
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	/* registered at 16: 32 plausible cells are still implausible, so are 15 */
	struct bms_plausible_limits reg = lfp;
	reg.cell_count = 16;
	CU_ASSERT_EQUAL(chk(&s, &reg, NULL), BMS_IMPL_CELL_COUNT_CHANGED);
	pack(&s, 15);
	CU_ASSERT_EQUAL(chk(&s, &reg, NULL), BMS_IMPL_CELL_COUNT_CHANGED);
	pack(&s, 16);
	CU_ASSERT_EQUAL(chk(&s, &reg, NULL), BMS_PLAUSIBLE);
}

static void test_chemistry_ranges(void)
{
	static const struct {
		enum bms_chemistry c;
		const char *name;
		uint16_t min, max;
	} t[] = {
		{BMS_CHEM_LFP, "lfp", 1500, 4500},
		{BMS_CHEM_NMC, "nmc", 1500, 4800},
		{BMS_CHEM_LTO, "lto", 1000, 3200},
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		enum bms_chemistry c;
		CU_ASSERT_EQUAL(bms_chemistry_from_name(t[k].name, &c), 0);
		CU_ASSERT_EQUAL(c, t[k].c);
		CU_ASSERT_STRING_EQUAL(bms_chemistry_name(t[k].c), t[k].name);
		struct bms_cell_range r = bms_chemistry_cell_range(t[k].c);
		CU_ASSERT_EQUAL(r.min_mv, t[k].min);
		CU_ASSERT_EQUAL(r.max_mv, t[k].max);
		/* one cell of 16 at each edge, the pack voltage following it */
		struct bms_plausible_limits l = {.chemistry = t[k].c};
		struct bms_snapshot s;
		uint16_t mid = (uint16_t)((t[k].min + t[k].max) / 2);
		const uint16_t probe[] = {t[k].min, t[k].max, (uint16_t)(t[k].min - 1),
					  (uint16_t)(t[k].max + 1)};
		for (size_t p = 0; p < 4; p++) {
			pack(&s, 16);
			for (unsigned i = 0; i < 16; i++)
				s.cell_mv[i] = mid;
			s.cell_mv[5] = probe[p];
			s.voltage_mv = mid * 15 + probe[p];
			uint32_t bad = 0;
			CU_ASSERT_EQUAL(chk(&s, &l, &bad), BMS_PLAUSIBLE);
			CU_ASSERT_EQUAL(bad, p < 2 ? 0u : 1u << 5);
		}
	}
	enum bms_chemistry c = BMS_CHEM_LTO;
	CU_ASSERT_EQUAL(bms_chemistry_from_name("lipo", &c), -EINVAL);
	CU_ASSERT_EQUAL(bms_chemistry_from_name(NULL, &c), -EINVAL);
	CU_ASSERT_EQUAL(c, BMS_CHEM_LTO);
	/* an NMC cell at 4.6 V is real, for LFP it is out of range */
	struct bms_snapshot s;
	pack(&s, 16);
	s.cell_mv[0] = 4600;
	s.voltage_mv = 3300 * 15 + 4600;
	uint32_t bad = 0;
	struct bms_plausible_limits nmc = {.chemistry = BMS_CHEM_NMC};
	CU_ASSERT_EQUAL(chk(&s, &nmc, &bad), BMS_PLAUSIBLE);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_PLAUSIBLE);
	CU_ASSERT_EQUAL(bad, 1u);
}

static void test_bad_cells(void)
{
	struct bms_snapshot s;
	/* 65.535 V: flagged, the pack compared with the other 15 (x 16/15) */
	pack(&s, 16);
	s.cell_mv[4] = 65535;
	uint32_t bad = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_PLAUSIBLE);
	CU_ASSERT_EQUAL(bad, 1u << 4);
	/* and the sum check still works over the others */
	s.voltage_mv = 52800 - 3300;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_IMPL_CELL_SUM);
	CU_ASSERT_EQUAL(bad, 0); /* nothing to mark on an implausible cycle */
	/* 0 V cells: two (a broken sense wire) stand, three do not */
	pack(&s, 16);
	s.cell_mv[7] = 0;
	s.cell_mv[8] = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_PLAUSIBLE);
	CU_ASSERT_EQUAL(bad, (1u << 7) | (1u << 8));
	s.cell_mv[9] = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_IMPL_CELLS);
	/* at most half the pack: 1 of 2 stands, 1 of 1 does not */
	pack(&s, 2);
	s.cell_mv[1] = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_PLAUSIBLE);
	CU_ASSERT_EQUAL(bad, 2u);
	pack(&s, 1);
	s.cell_mv[0] = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_IMPL_CELLS);
	pack(&s, 3);
	s.cell_mv[0] = s.cell_mv[2] = 65535;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_IMPL_CELLS);
}

static void test_mark(void)
{
	struct bms_snapshot s;
	pack(&s, 16);
	s.cell_mv[0] = 0;
	s.cell_mv[15] = 65535;
	uint32_t bad = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_PLAUSIBLE);
	/* the BMS sent no alarms: the mark makes them valid, only the two set */
	bms_plausible_mark(&s, &lfp, bad);
	CU_ASSERT_EQUAL(s.cell_implausible, 1u | (1u << 15));
	CU_ASSERT(s.valid & BMS_V_ALARMS);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_LOW_CELL_VOLTAGE], 2);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE], 2);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_LOW_SOC], 0);
	/* min/max/sum for D-Bus skip the flagged cells */
	struct bms_stats cs;
	bms_stats_compute(&s, &cs);
	CU_ASSERT_EQUAL(cs.cell_count, 14);
	CU_ASSERT_EQUAL(cs.cell_min_mv, 3300);
	CU_ASSERT_EQUAL(cs.cell_max_mv, 3300);
	CU_ASSERT_EQUAL(cs.cell_sum_mv, 14u * 3300u);
	/* a BMS alarm of its own is kept, a warning raised to alarm, nothing lowered */
	pack(&s, 16);
	s.valid |= BMS_V_ALARMS;
	s.alarm[BMS_ALARM_LOW_SOC] = 1;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 1;
	s.cell_mv[3] = 65535;
	CU_ASSERT_EQUAL(chk(&s, &lfp, &bad), BMS_PLAUSIBLE);
	bms_plausible_mark(&s, &lfp, bad);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_LOW_SOC], 1);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE], 2);
	CU_ASSERT_EQUAL(s.alarm[BMS_ALARM_LOW_CELL_VOLTAGE], 0);
	/* nothing bad: mask cleared, alarms untouched */
	pack(&s, 16);
	s.cell_implausible = 0xffff;
	bms_plausible_mark(&s, &lfp, 0);
	CU_ASSERT_EQUAL(s.cell_implausible, 0);
	CU_ASSERT(!(s.valid & BMS_V_ALARMS));
}

static void test_temperatures(void)
{
	struct bms_snapshot s;
	const struct {
		int16_t dc;
		bool ok;
	} t[] = {{-400, true}, {-401, false}, {1000, true}, {1001, false}, {-2730, false}};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		pack(&s, 16);
		s.temp_dc[1] = t[k].dc;
		CU_ASSERT_EQUAL(chk(&s, &lfp, NULL),
				t[k].ok ? BMS_PLAUSIBLE : BMS_IMPL_TEMPERATURE);
		pack(&s, 16);
		s.mosfet_temp_dc = t[k].dc;
		CU_ASSERT_EQUAL(chk(&s, &lfp, NULL),
				t[k].ok ? BMS_PLAUSIBLE : BMS_IMPL_MOSFET_TEMPERATURE);
		/* not valid: not looked at */
		s.valid &= ~(uint32_t)BMS_V_MOSFET_TEMP;
		CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	}
	/* sensors past temp_count are not looked at */
	pack(&s, 16);
	s.temp_count = 1;
	s.temp_dc[1] = -2730;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
}

static void test_soc_soh(void)
{
	struct bms_snapshot s;
	pack(&s, 16);
	s.soc_cpct = 10000;
	s.soh_cpct = 10000;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.soc_cpct = 0;
	s.soh_cpct = 0;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.soc_cpct = 10001;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_SOC);
	s.soc_cpct = 25000; /* the "SOC 250 %" */
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_SOC);
	s.soc_cpct = 5000;
	s.soh_cpct = 10001;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_SOH);
}

static void test_current(void)
{
	/* 4 x the configured maximum, at least 200 A; none configured: 1000 A */
	CU_ASSERT_EQUAL(bms_plausible_current_max_ma(0), 1000000);
	CU_ASSERT_EQUAL(bms_plausible_current_max_ma(10000), 200000);
	CU_ASSERT_EQUAL(bms_plausible_current_max_ma(50000), 200000);
	CU_ASSERT_EQUAL(bms_plausible_current_max_ma(50001), 200004);
	CU_ASSERT_EQUAL(bms_plausible_current_max_ma(100000), 400000);
	CU_ASSERT_EQUAL(bms_plausible_current_max_ma(10000000), 1000000);
	struct bms_plausible_limits l = {.max_charge_ma = 100000, .max_discharge_ma = 25000};
	struct bms_snapshot s;
	pack(&s, 16);
	s.current_ma = 400000;
	CU_ASSERT_EQUAL(chk(&s, &l, NULL), BMS_PLAUSIBLE);
	s.current_ma = 400001;
	CU_ASSERT_EQUAL(chk(&s, &l, NULL), BMS_IMPL_CURRENT);
	s.current_ma = -200000; /* discharge: 4 x 25 A is below the 200 A floor */
	CU_ASSERT_EQUAL(chk(&s, &l, NULL), BMS_PLAUSIBLE);
	s.current_ma = -200001;
	CU_ASSERT_EQUAL(chk(&s, &l, NULL), BMS_IMPL_CURRENT);
	s.current_ma = INT32_MIN; /* no overflow in the negation */
	CU_ASSERT_EQUAL(chk(&s, &l, NULL), BMS_IMPL_CURRENT);
	s.current_ma = 1000000; /* nothing configured: 1000 A */
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
	s.current_ma = 1000001;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CURRENT);
	s.current_ma = -1000001;
	CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CURRENT);
}

static void test_capacities(void)
{
	int32_t *f[3];
	struct bms_snapshot s;
	for (int k = 0; k < 3; k++) {
		pack(&s, 16);
		f[0] = &s.capacity_full_mah;
		f[1] = &s.capacity_design_mah;
		f[2] = &s.capacity_remain_mah;
		*f[k] = BMS_PLAUSIBLE_CAP_MAX_MAH;
		CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
		*f[k] = BMS_PLAUSIBLE_CAP_MAX_MAH + 1;
		CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CAPACITY);
		*f[k] = 0;
		CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_PLAUSIBLE);
		*f[k] = -1;
		CU_ASSERT_EQUAL(chk(&s, &lfp, NULL), BMS_IMPL_CAPACITY);
	}
}

static void test_texts(void)
{
	for (int k = 0; k < BMS_IMPL_COUNT; k++) {
		const char *t = bms_implausible_text((enum bms_implausible)k);
		CU_ASSERT_PTR_NOT_NULL(t);
		CU_ASSERT(t && t[0] != '?' && t[0] != '\0');
	}
	CU_ASSERT_STRING_EQUAL(bms_implausible_text(BMS_IMPL_COUNT), "?");
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"ordinary", test_ordinary},
		{"pack voltage", test_pack_voltage},
		{"pack vs cell sum", test_cell_sum},
		{"cell count and registration", test_cell_count},
		{"chemistry ranges", test_chemistry_ranges},
		{"cells out of range", test_bad_cells},
		{"mark: mask, alarms, cell stats", test_mark},
		{"temperatures", test_temperatures},
		{"SOC and SOH", test_soc_soh},
		{"current", test_current},
		{"capacities", test_capacities},
		{"texts", test_texts},
		{NULL, NULL},
	};
	return sb_add_suite("plausible", tests);
}
