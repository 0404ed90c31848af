/* SPDX-License-Identifier: MIT */
/* bms/fields.c: the table covers the snapshot once, and its conversions. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bms/fields.h"
#include "tests/support/cunit_main.h"

/* Every valid bit is described, and each key and column only once. */
static void test_table_covers_snapshot(void)
{
	uint32_t bits = 0;
	for (unsigned i = 0; i < BMS_FIELD_COUNT; i++) {
		const struct bms_field *f = &bms_fields[i];
		CU_ASSERT_PTR_NOT_NULL_FATAL(f->key);
		CU_ASSERT(f->valid != 0 && (f->valid & (f->valid - 1)) == 0);
		CU_ASSERT(f->offset < sizeof(struct bms_snapshot));
		CU_ASSERT(f->scale == 1 || f->scale == 10 || f->scale == 100 || f->scale == 1000);
		CU_ASSERT_PTR_NOT_NULL(f->unit);
		CU_ASSERT_PTR_NOT_NULL(f->raw_unit);
		bits |= f->valid;
		CU_ASSERT_PTR_EQUAL(bms_field_by_key(f->key), f);
		for (unsigned j = 0; j < i; j++) {
			CU_ASSERT(strcmp(bms_fields[j].key, f->key) != 0);
			CU_ASSERT(!f->csv[0] || !bms_fields[j].csv[0] ||
				  strcmp(bms_fields[j].csv, f->csv) != 0);
			/* two fields share an offset never (the FETs share a bit, not a place) */
			CU_ASSERT(bms_fields[j].offset != f->offset);
		}
	}
	/* all bits from BMS_V_VOLTAGE up to the highest one in bms.h */
	CU_ASSERT_EQUAL(bits, (BMS_V_HEATER_SETTINGS << 1) - 1);
	CU_ASSERT_PTR_NULL(bms_field_by_key("voltage"));
	CU_ASSERT_PTR_EQUAL(bms_field_by_csv("current"), &bms_fields[BMS_FIELD_CURRENT]);
	/* arrays are no scalar column: cell3 is an element, "cell" nothing */
	CU_ASSERT_PTR_NULL(bms_field_by_csv("cell"));
	CU_ASSERT_EQUAL(bms_field_decimals(&bms_fields[BMS_FIELD_VOLTAGE]), 3);
	CU_ASSERT_EQUAL(bms_field_decimals(&bms_fields[BMS_FIELD_SOC]), 2);
	CU_ASSERT_EQUAL(bms_field_decimals(&bms_fields[BMS_FIELD_TEMPS]), 1);
	CU_ASSERT_EQUAL(bms_field_decimals(&bms_fields[BMS_FIELD_CYCLES]), 0);
}

/* Each scalar lands in its own member with its unit, and sets its bit. */
static void test_set_get_members(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_VOLTAGE], &s, 53.2204) == 0);
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_CURRENT], &s, -12.5) == 0);
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_POWER], &s, -656.25) == 0);
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_SOC], &s, 85.5) == 0);
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_MOSFET_TEMP], &s, -4.25) == 0);
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_CYCLES], &s, 42) == 0);
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_DISCHARGE_FET], &s, 1) == 0);
	CU_ASSERT(bms_field_set(&bms_fields[BMS_FIELD_MAX_DISCHARGE_I], &s, 100) == 0);
	CU_ASSERT_EQUAL(s.voltage_mv, 53220);
	CU_ASSERT_EQUAL(s.current_ma, -12500);
	CU_ASSERT_EQUAL(s.power_mw, -656250);
	CU_ASSERT_EQUAL(s.soc_cpct, 8550);
	CU_ASSERT_EQUAL(s.mosfet_temp_dc, -43); /* half away from zero */
	CU_ASSERT_EQUAL(s.cycles, 42u);
	CU_ASSERT(s.discharge_fet && !s.charge_fet);
	CU_ASSERT_EQUAL(s.max_discharge_ma, 100000);
	CU_ASSERT_EQUAL(s.valid, BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC |
					 BMS_V_MOSFET_TEMP | BMS_V_CYCLES | BMS_V_FETS |
					 BMS_V_MAX_DISCHARGE_I);
	CU_ASSERT_DOUBLE_EQUAL(bms_field_get(&bms_fields[BMS_FIELD_VOLTAGE], &s), 53.22, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(bms_field_get(&bms_fields[BMS_FIELD_MOSFET_TEMP], &s), -4.3, 1e-12);
	/* a count beyond its arrays is refused, nothing set */
	CU_ASSERT_EQUAL(bms_field_set(&bms_fields[BMS_FIELD_CELL_COUNT], &s, 33), -ERANGE);
	CU_ASSERT_EQUAL(s.valid & BMS_V_CELLS, 0u);
	CU_ASSERT_EQUAL(bms_field_set(&bms_fields[BMS_FIELD_SERIAL], &s, 1), -EINVAL);

	/* arrays: elements, length clamped to the capacity */
	const struct bms_field *c = &bms_fields[BMS_FIELD_CELLS];
	CU_ASSERT(bms_field_set_elem(c, &s, 31, 3.3335) == 0);
	CU_ASSERT(bms_field_set_elem(c, &s, 32, 3.3) == -EINVAL);
	CU_ASSERT_EQUAL(s.cell_mv[31], 3334);
	s.cell_count = 200;
	CU_ASSERT_EQUAL(bms_field_len(c, &s), BMS_MAX_CELLS);
	CU_ASSERT_DOUBLE_EQUAL(bms_field_elem(c, &s, 31), 3.334, 1e-12);
}

static void test_conversions(void)
{
	/* saturation at the type's ends, NaN to 0 */
	CU_ASSERT_EQUAL(bms_from_si(70.0, BMS_SCALE_MILLI, 0, UINT16_MAX), UINT16_MAX);
	CU_ASSERT_EQUAL(bms_from_si(-1.0, BMS_SCALE_MILLI, 0, UINT16_MAX), 0);
	CU_ASSERT_EQUAL(bms_from_si(1e300, BMS_SCALE_MILLI, INT32_MIN, INT32_MAX), INT32_MAX);
	CU_ASSERT_EQUAL(bms_from_si(-1e300, BMS_SCALE_MILLI, INT64_MIN, INT64_MAX), INT64_MIN);
	CU_ASSERT_EQUAL(bms_from_si(NAN, BMS_SCALE_DECI, INT16_MIN, INT16_MAX), 0);
	CU_ASSERT_EQUAL(bms_from_si(-0.05, BMS_SCALE_DECI, INT16_MIN, INT16_MAX), -1);
	CU_ASSERT_EQUAL(bms_from_si(0.0049, BMS_SCALE_CENTI, 0, UINT16_MAX), 0);
	/* the helpers are the table's scales */
	CU_ASSERT_DOUBLE_EQUAL(bms_mv_to_v(3290), 3.29, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(bms_ma_to_a(-12500), -12.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(bms_dc_to_c(-51), -5.1, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(bms_cpct_to_pct(8550), 85.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(bms_mah_to_ah(100000), 100, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(bms_mw_to_w(-656250), -656.25, 1e-12);
}

/* bms_snapshot_copy_fields walks the table: every member behind a bit is
 * copied (held static fields), and nothing behind a bit not asked for. */
static void test_copy_fields(void)
{
	struct bms_snapshot src, dst;
	memset(&src, 0x5A, sizeof(src));
	src.cell_count = BMS_MAX_CELLS;
	src.temp_count = BMS_MAX_TEMPS;
	src.charge_fet = src.discharge_fet = src.balancer_enabled = true;
	src.heating = src.heating_enabled = true;
	uint32_t all = 0;
	for (unsigned i = 0; i < BMS_FIELD_COUNT; i++)
		all |= bms_fields[i].valid;
	memset(&dst, 0, sizeof(dst));
	bms_snapshot_copy_fields(&dst, &src, all);
	CU_ASSERT_EQUAL(dst.valid, all);
	CU_ASSERT_EQUAL(dst.voltage_mv, src.voltage_mv);
	CU_ASSERT_EQUAL(dst.current_ma, src.current_ma);
	CU_ASSERT_EQUAL(dst.power_mw, src.power_mw);
	CU_ASSERT_EQUAL(dst.soc_cpct, src.soc_cpct);
	CU_ASSERT_EQUAL(dst.soh_cpct, src.soh_cpct);
	CU_ASSERT_EQUAL(dst.capacity_remain_mah, src.capacity_remain_mah);
	CU_ASSERT_EQUAL(dst.capacity_full_mah, src.capacity_full_mah);
	CU_ASSERT_EQUAL(dst.capacity_design_mah, src.capacity_design_mah);
	CU_ASSERT_EQUAL(dst.cycles, src.cycles);
	CU_ASSERT_EQUAL(dst.cell_count, src.cell_count);
	CU_ASSERT(memcmp(dst.cell_mv, src.cell_mv, sizeof(src.cell_mv)) == 0);
	CU_ASSERT_EQUAL(dst.balancing, src.balancing);
	CU_ASSERT_EQUAL(dst.balancer_enabled, src.balancer_enabled);
	CU_ASSERT_EQUAL(dst.temp_count, src.temp_count);
	CU_ASSERT(memcmp(dst.temp_dc, src.temp_dc, sizeof(src.temp_dc)) == 0);
	CU_ASSERT_EQUAL(dst.mosfet_temp_dc, src.mosfet_temp_dc);
	CU_ASSERT_EQUAL(dst.charge_fet, src.charge_fet);
	CU_ASSERT_EQUAL(dst.discharge_fet, src.discharge_fet);
	CU_ASSERT(memcmp(dst.alarm, src.alarm, sizeof(src.alarm)) == 0);
	CU_ASSERT_EQUAL(dst.max_charge_ma, src.max_charge_ma);
	CU_ASSERT_EQUAL(dst.max_discharge_ma, src.max_discharge_ma);
	CU_ASSERT(memcmp(dst.serial, src.serial, BMS_STR_LEN) == 0);
	CU_ASSERT(memcmp(dst.model, src.model, BMS_STR_LEN) == 0);
	CU_ASSERT(memcmp(dst.hw_version, src.hw_version, BMS_STR_LEN) == 0);
	CU_ASSERT(memcmp(dst.sw_version, src.sw_version, BMS_STR_LEN) == 0);
	CU_ASSERT_EQUAL(dst.heating, src.heating);
	CU_ASSERT_EQUAL(dst.heater_current_ma, src.heater_current_ma);
	CU_ASSERT_EQUAL(dst.heating_enabled, src.heating_enabled);
	CU_ASSERT_EQUAL(dst.heating_start_dc, src.heating_start_dc);
	CU_ASSERT_EQUAL(dst.heating_stop_dc, src.heating_stop_dc);
	CU_ASSERT_EQUAL(dst.cell_implausible, 0); /* never a driver's field */

	/* only the bits asked for */
	memset(&dst, 0, sizeof(dst));
	bms_snapshot_copy_fields(&dst, &src, BMS_V_MODEL | BMS_V_TEMPS);
	CU_ASSERT_EQUAL(dst.valid, BMS_V_MODEL | BMS_V_TEMPS);
	CU_ASSERT(memcmp(dst.model, src.model, BMS_STR_LEN) == 0);
	CU_ASSERT_EQUAL(dst.temp_count, src.temp_count);
	CU_ASSERT_EQUAL(dst.serial[0], 0);
	CU_ASSERT_EQUAL(dst.voltage_mv, 0);
	CU_ASSERT_EQUAL(dst.cell_count, 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"the table covers the snapshot once", test_table_covers_snapshot},
		{"set and get reach their members", test_set_get_members},
		{"conversions", test_conversions},
		{"copy_fields walks the table", test_copy_fields},
		{NULL, NULL},
	};
	return sb_add_suite("fields", tests);
}
