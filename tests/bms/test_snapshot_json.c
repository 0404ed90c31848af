/* SPDX-License-Identifier: MIT */
/* bms/snapshot_json: writer keys, reader round trip, timed states, bad input. */
#include <errno.h>
#include <string.h>

#include "tests/support/cunit_main.h"
#include "bms/snapshot_json.h"

static struct bms_snapshot full(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_SOH |
		  BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES |
		  BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING |
		  BMS_V_BALANCER | BMS_V_ALARMS | BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I |
		  BMS_V_SERIAL | BMS_V_MODEL | BMS_V_HW_VERSION | BMS_V_SW_VERSION;
	s.voltage_mv = 53224;
	s.current_ma = -31881;
	s.power_mw = -1696834;
	s.soc_cpct = 2550;
	s.soh_cpct = 9900;
	s.capacity_remain_mah = 49286;
	s.capacity_full_mah = 200000;
	s.capacity_design_mah = 280000;
	s.cycles = 9;
	s.cell_count = 4;
	s.cell_mv[0] = 3333;
	s.cell_mv[1] = 3326;
	s.cell_mv[2] = 3300;
	s.cell_mv[3] = 3001;
	s.balancing = 1u << 2;
	s.balancer_enabled = true;
	s.temp_count = 2;
	s.temp_dc[0] = 134;
	s.temp_dc[1] = -75;
	s.mosfet_temp_dc = 129;
	s.charge_fet = true;
	s.alarm[BMS_ALARM_LOW_SOC] = 1;
	s.alarm[BMS_ALARM_FUSE_BLOWN] = 2;
	s.max_charge_ma = 100000;
	s.max_discharge_ma = 150500;
	strcpy(s.serial, "SN\"1\\");
	strcpy(s.model, "JK-PB2A16S20P");
	strcpy(s.hw_version, "19A");
	strcpy(s.sw_version, "19.27");
	return s;
}

static void test_keys(void)
{
	struct bms_snapshot s = full();
	char buf[8192];
	CU_ASSERT_FATAL(bms_json_format(&s, buf, sizeof(buf)) == 0);
	static const char *const want[] = {"\"voltage_v\": 53.224",
					   "\"current_a\": -31.881",
					   "\"power_w\": -1696.834",
					   "\"soc_pct\": 25.5",
					   "\"soh_pct\": 99",
					   "\"capacity_remaining_ah\": 49.286",
					   "\"capacity_full_ah\": 200",
					   "\"cycles\": 9",
					   "\"cell_count\": 4",
					   "\"cell_voltages_v\": [3.333, 3.326, 3.3, 3.001]",
					   "\"temperatures_c\": [13.4, -7.5]",
					   "\"mosfet_temp_c\": 12.9",
					   "\"charge_fet\": true",
					   "\"discharge_fet\": false",
					   "\"balancing\": [3]",
					   "\"LowSoc\": 1",
					   "\"FuseBlown\": 2",
					   "\"serial\": \"SN\\\"1\\\\\"",
					   "\"hw_version\": \"19A\"",
					   "\"sw_version\": \"19.27\"",
					   "\"model\": \"JK-PB2A16S20P\""};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(buf, want[i])) {
			fprintf(stderr, "\n  missing %s in %s\n", want[i], buf);
			CU_FAIL("key missing");
		}
	/* nothing without its valid bit */
	s.valid = BMS_V_VOLTAGE;
	CU_ASSERT(bms_json_format(&s, buf, sizeof(buf)) == 0);
	CU_ASSERT_STRING_EQUAL(buf, "{\"voltage_v\": 53.224}");
	CU_ASSERT(bms_json_format(&s, buf, 5) == -ENOSPC);
}

static void test_roundtrip(void)
{
	struct bms_snapshot s = full();
	char buf[8192], err[200];
	struct bms_json_state st[4];
	size_t n = 0;
	CU_ASSERT_FATAL(bms_json_format(&s, buf, sizeof(buf)) == 0);
	CU_ASSERT_FATAL(bms_json_read(buf, strlen(buf), st, 4, &n, err, sizeof(err)) == 0);
	CU_ASSERT(n == 1);
	CU_ASSERT(st[0].t_ms == 0);
	CU_ASSERT(memcmp(&st[0].snap, &s, sizeof(s)) == 0);
}

/*
 * Cell readings the writer can write come back as written, up to the
 * field's range (65.535 V); beyond it they saturate. Before the table, a
 * reading above 65 V was read as 65.535 V, so 65.2 V did not survive a round
 * trip.
 */
static void test_cells_whole_range(void)
{
	static const char text[] = "{\"cell_voltages_v\": [65.2, 65.535, 70, -1, 0.0015]}";
	struct bms_json_state st[1];
	size_t n = 0;
	CU_ASSERT_FATAL(bms_json_read(text, strlen(text), st, 1, &n, NULL, 0) == 0);
	const struct bms_snapshot *s = &st[0].snap;
	CU_ASSERT_EQUAL(s->cell_count, 5);
	CU_ASSERT_EQUAL(s->cell_mv[0], 65200);
	CU_ASSERT_EQUAL(s->cell_mv[1], 65535);
	CU_ASSERT_EQUAL(s->cell_mv[2], 65535);
	CU_ASSERT_EQUAL(s->cell_mv[3], 0);
	CU_ASSERT_EQUAL(s->cell_mv[4], 2);
	char buf[512];
	CU_ASSERT_FATAL(bms_json_format(s, buf, sizeof(buf)) == 0);
	CU_ASSERT_STRING_EQUAL(buf,
			       "{\"cell_count\": 5, \"cell_voltages_v\": [65.2, 65.535, 65.535, 0, "
			       "0.002]}");
}

static void test_states(void)
{
	static const char text[] =
		"{ \"voltage_v\": 52.0, \"soc_pct\": 50, \"cell_voltages_v\": [3.25, 3.25],\n"
		"  \"states\": [ {\"t\": 0}, {\"t\": 30, \"soc_pct\": 60, \"current_a\": 10},\n"
		"               {\"t\": 60.5, \"voltage_v\": 53} ] }";
	struct bms_json_state st[8];
	size_t n = 0;
	char err[200] = "";
	int r = bms_json_read(text, strlen(text), st, 8, &n, err, sizeof(err));
	if (r)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_FATAL(r == 0);
	CU_ASSERT_FATAL(n == 3);
	CU_ASSERT(st[1].t_ms == 30000 && st[2].t_ms == 60500);
	const struct bms_snapshot *a = bms_json_at(st, n, 29999);
	CU_ASSERT(a->soc_cpct == 5000 && !(a->valid & BMS_V_CURRENT));
	a = bms_json_at(st, n, 30000);
	CU_ASSERT(a->soc_cpct == 6000 && a->current_ma == 10000 && a->voltage_mv == 52000);
	a = bms_json_at(st, n, 1000000);
	CU_ASSERT(a->voltage_mv == 53000 && a->soc_cpct == 6000 && a->cell_count == 2);
	CU_ASSERT(bms_json_read(text, strlen(text), st, 2, &n, err, sizeof(err)) == -E2BIG);
}

static void test_bad(void)
{
	static const char *const bad[] = {
		"",
		"{",
		"{\"voltage_v\": }",
		"{\"nope\": 1}",
		"{\"voltage_v\": 1} x",
		"{\"alarms\": {\"Bogus\": 1}}",
		"{\"alarms\": {\"LowSoc\": 3}}",
		"{\"states\": [{\"soc_pct\": 1}]}",
		"{\"states\": [{\"t\": 5}, {\"t\": 5}]}",
		"{\"cell_voltages_v\": "
		"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,"
		"24,25,26,27,28,29,30,31,32,33]}",
		"{\"serial\": \"abc",
		"{\"balancing\": [0]}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
		"{\"states\": "
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	struct bms_json_state st[2];
	size_t n;
	char err[200];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int r = bms_json_read(bad[i], strlen(bad[i]), st, 2, &n, err, sizeof(err));
		if (r == 0)
			fprintf(stderr, "\n  accepted: %s\n", bad[i]);
		CU_ASSERT(r < 0);
		CU_ASSERT(err[0] != '\0');
	}
	/* the text need not be NUL-terminated: a prefix is read as a prefix */
	static const char good[] = "{\"voltage_v\": 12}{garbage";
	CU_ASSERT(bms_json_read(good, 17, st, 2, &n, NULL, 0) == 0);
	CU_ASSERT(st[0].snap.voltage_mv == 12000);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"keys", test_keys},
		{"roundtrip", test_roundtrip},
		{"cells over the whole range", test_cells_whole_range},
		{"states", test_states},
		{"bad", test_bad},
		{NULL, NULL},
	};
	return sb_add_suite("snapshot_json", tests);
}
