/* SPDX-License-Identifier: MIT */
/* JK 0x4E57 driver: captured vectors, frame check conformance, simulator round trip. */
#include <errno.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_jk;

static const struct bms_request poll0 = {.kind = BMS_REQ_POLL, .cycle = 1};

static enum dc_map jk_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	(void)frame;
	(void)len;
	if (!strcmp(key, "capacity_ah")) {
		ret->kind = VEC_NUM;
		ret->num = s->capacity_full_mah / 1000.0;
		return (s->valid & BMS_V_CAP_FULL) ? DC_MAPPED : DC_UNKNOWN;
	}
	if (!strcmp(key, "manufacturer_id")) {
		ret->kind = VEC_STR;
		strcpy(ret->str, s->serial);
		return DC_MAPPED;
	}
	/* raw protocol details the snapshot carries in decoded form */
	static const char *const skip[] = {"alarm_bits",
					   "status_bits",
					   "battery_type",
					   "protocol_version",
					   "runtime_min",
					   "cycle_capacity_ah",
					   NULL};
	if (dc_key_in(key, skip))
		return DC_SKIP;
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	CU_ASSERT(dc_check_vectors(&bms_jk, 0, jk_map) == dc_count(&bms_jk, "response"));
}

static void test_requests(void)
{
	/* the PC-source request is ours; the ESPHome GPS-source one is not */
	CU_ASSERT(dc_check_requests(&bms_jk, 0) == 1);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53120;
	s.current_ma = -12340;
	s.soc_cpct = 8700;
	s.cycles = 42;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3300 + i);
	s.temp_count = 2;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = -70; /* below zero: the 100+ coding */
	s.mosfet_temp_dc = 310;
	s.charge_fet = true;
	s.discharge_fet = false;
	s.balancer_enabled = true;
	s.alarm[BMS_ALARM_LOW_SOC] = 1;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 2;
	s.max_charge_ma = 100000;
	s.max_discharge_ma = 150000;
	s.capacity_full_mah = 280000;
	s.capacity_design_mah = 280000;
	strcpy(s.sw_version, "H6.X__S6.1.3S__");
	strcpy(s.serial, "BT3072020120000200521001");
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(&bms_jk, 0, &s,
			       BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CYCLES |
				       BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_FETS |
				       BMS_V_BALANCER | BMS_V_ALARMS | BMS_V_MAX_CHARGE_I |
				       BMS_V_MAX_DISCHARGE_I | BMS_V_CAP_FULL | BMS_V_SW_VERSION |
				       BMS_V_SERIAL);
	s.current_ma = 20800; /* charging sets bit 15 */
	dc_check_sim_roundtrip(&bms_jk, 0, &s, BMS_V_CURRENT);
}

/* An adapter that echoes our request: the echo is garbage, the reply is found. */
static void test_echo(void)
{
	uint8_t req[64], buf[1024];
	struct bms_snapshot s = sample_state(), got;
	int n = bms_jk.build_request(NULL, &poll0, req, sizeof(req));
	CU_ASSERT_FATAL(n == 21);
	memcpy(buf, req, (size_t)n);
	int m = bms_sim_respond(&bms_jk, &s, 0, req, (size_t)n, buf + n, sizeof(buf) - (size_t)n);
	CU_ASSERT_FATAL(m > 0);
	size_t start, flen;
	CU_ASSERT(bms_frame_find(&bms_jk, buf, (size_t)(n + m), &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(start == (size_t)n && flen == (size_t)m);
	/* the echo alone is not a reply */
	CU_ASSERT(bms_frame_find(&bms_jk, req, (size_t)n, &start, &flen) == BMS_FIND_INVALID);
	memset(&got, 0, sizeof(got));
	CU_ASSERT(dc_feed(&bms_jk, NULL, &poll0, buf, (size_t)(n + m), &got) == 0);
	CU_ASSERT(got.voltage_mv == 53120);
}

/* Temperature coding: vendor table, 101..140 = -(v - 100), beyond = reject. */
static void test_temperature_coding(void)
{
	struct bms_snapshot s = sample_state(), got;
	uint8_t req[64], rep[1024];
	int n = bms_jk.build_request(NULL, &poll0, req, sizeof(req));
	int m = bms_sim_respond(&bms_jk, &s, 0, req, (size_t)n, rep, sizeof(rep));
	CU_ASSERT_FATAL(m > 0);
	/* find tag 0x81 after the cell block and set raw values by hand */
	size_t t81 = 11 + 2 + rep[12] + 3;
	CU_ASSERT_FATAL(rep[t81] == 0x81);
	static const struct {
		uint16_t raw;
		int16_t dc;
		int ok;
	} cases[] = {{0, 0, 1}, {100, 1000, 1}, {101, -10, 1}, {140, -400, 1}, {141, 0, 0}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_u16be(rep + t81 + 1, cases[i].raw);
		put_u16be(rep + m - 2, bms_sum16(rep, (size_t)m - 4));
		memset(&got, 0, sizeof(got));
		int r = bms_jk.parse(NULL, &poll0, rep, (size_t)m, &got);
		if (cases[i].ok) {
			CU_ASSERT(r == 0);
			CU_ASSERT(got.temp_dc[0] == cases[i].dc);
		} else {
			CU_ASSERT(r == -EPROTO);
		}
	}
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"sim_roundtrip", test_sim_roundtrip},
		{"echo", test_echo},
		{"temperature_coding", test_temperature_coding},
		{NULL, NULL},
	};
	return sb_add_suite("jk", tests);
}
