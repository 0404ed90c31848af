/* SPDX-License-Identifier: MIT */
/*
 * ECS GreenMeter (Modbus RTU 19200 8E1, opt-in) driver: no public capture
 * exists, so blocks hand-built from the fact sheet's layout pin the coding
 * (32-bit values low word first, the SOC high-word quirk, the state codes);
 * then requests, link and flags, the simulator round trip, frame
 * conformance of every reply, rejects, foreign frames, describe, other
 * families' captures, and the property test.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/bms/fc3_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_ecs;
#define DRV (&bms_ecs)

#define MUST_VALID                                                                                 \
	(BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_TEMPS | BMS_V_ALARMS | BMS_V_FETS |     \
	 BMS_V_MODEL | BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_CAP_FULL)

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53120;
	s.current_ma = -12345;
	s.soc_cpct = 8765;
	s.temp_count = 2;
	s.temp_dc[0] = 215;
	s.temp_dc[1] = -50;
	s.charge_fet = false;
	s.discharge_fet = true;
	s.alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] = 1;
	s.max_charge_ma = 100000;
	s.max_discharge_ma = 150000;
	s.capacity_full_mah = 280000;
	snprintf(s.model, sizeof(s.model), "GreenMeter-250A");
	s.valid = MUST_VALID;
	return s;
}

static void test_link_and_requests(void)
{
	CU_ASSERT(DRV->flags & BMS_F_OPT_IN);
	CU_ASSERT(bms_driver_framing(DRV) == BMS_8E1 && bms_driver_bauds(DRV)[0] == 19200 &&
		  bms_driver_bauds(DRV)[1] == 0);
	static const uint8_t probe[8] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x04, 0x44, 0x09};
	/* the poll: meter id, live (the probe), settings */
	static const uint16_t blocks[][2] = {{0, 4}, {102, 30}, {30, 18}};
	fc3_check_requests(DRV, probe, 2, blocks, 3);
}

/* A register of a block at data offset 2 * (reg - first). */
#define REG(f, first, reg) ((f) + 3 + 2 * ((reg) - (first)))

/* 53.120 V, -12.345 A, SOC 87.654 %, 21.50 and -5.05 degC, states as given. */
static size_t hand_live(uint8_t *f, uint16_t ov, uint16_t uv)
{
	memset(f, 0, 65);
	f[0] = 1, f[1] = 3, f[2] = 60;
	put_u16be(REG(f, 102, 102), 2150);
	put_u16be(REG(f, 102, 103), (uint16_t)-505);
	put_u16be(REG(f, 102, 108), 0xCF80); /* 53120, low word first */
	put_u16be(REG(f, 102, 109), 0x0000);
	put_u16be(REG(f, 102, 114), 0xCFC7); /* -12345 = 0xFFFFCFC7 */
	put_u16be(REG(f, 102, 115), 0xFFFF);
	put_u16be(REG(f, 102, 128), 0x5666); /* 87654 = 0x00015666 */
	put_u16be(REG(f, 102, 129), 0x0001);
	put_u16be(REG(f, 102, 130), ov);
	put_u16be(REG(f, 102, 131), uv);
	fc3_fix_crc(f, 65);
	return 65;
}

static void test_hand_blocks(void)
{
	uint8_t f[80], st[16];
	struct bms_snapshot s;
	CU_ASSERT_FATAL(DRV->init(st, 1) == 0);
	/* the meter id */
	uint8_t id[13] = {1, 3, 8, 0x01, 0xF5, 0, 0, 0x30, 0x39, 0, 0, 0, 0};
	fc3_fix_crc(id, 13);
	struct bms_request rq = {.kind = BMS_REQ_PROBE, .step = 0};
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->parse(st, &rq, id, 13, &s) == 0);
	CU_ASSERT(s.valid == BMS_V_MODEL);
	CU_ASSERT_STRING_EQUAL(s.model, "GreenMeter-250A");
	struct bms_frame_desc x;
	CU_ASSERT_FATAL(bms_driver_describe(DRV, id, 13, &x) == 0);
	const struct bms_desc_item *it = dc_desc_find(&x, "production");
	CU_ASSERT(x.command == 0 && it && it->num == 12345);
	for (uint16_t bad = 498; bad <= 504; bad += 5) { /* 498, 503: no GreenMeter */
		id[3] = (uint8_t)(bad >> 8), id[4] = (uint8_t)bad;
		fc3_fix_crc(id, 13);
		memset(&s, 0, sizeof(s));
		CU_ASSERT(DRV->parse(st, &rq, id, 13, &s) == -EPROTO && s.valid == 0);
	}
	/* the live block */
	rq.step = 1;
	size_t n = hand_live(f, 0, 0);
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT(s.voltage_mv == 53120 && s.current_ma == -12345 && s.soc_cpct == 8765);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 215 && s.temp_dc[1] == -50);
	CU_ASSERT(s.charge_fet && s.discharge_fet && !(s.valid & BMS_V_CELLS));
	/* the SOC quirk: 50 % sent as C350 FFFF */
	put_u16be(REG(f, 102, 128), 0xC350);
	put_u16be(REG(f, 102, 129), 0xFFFF);
	fc3_fix_crc(f, n);
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT(s.soc_cpct == 5000);
	CU_ASSERT_FATAL(bms_driver_describe(DRV, f, n, &x) == 0);
	it = dc_desc_find(&x, "soc_raw");
	CU_ASSERT(x.command == 102 && it && it->num == 0xFFFFC350u);
	/* the states of both sides */
	static const struct {
		uint16_t ov, uv;
		enum bms_alarm a;
		uint8_t level;
	} states[] = {
		{1, 0, BMS_ALARM_HIGH_VOLTAGE, 2},
		{2, 0, BMS_ALARM_HIGH_CHARGE_CURRENT, 1},
		{3, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 1},
		{4, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 1},
		{5, 0, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 1},
		{6, 0, BMS_ALARM_LOW_CHARGE_TEMPERATURE, 1},
		{0, 1, BMS_ALARM_LOW_VOLTAGE, 2},
		{0, 2, BMS_ALARM_HIGH_DISCHARGE_CURRENT, 1},
		{0, 3, BMS_ALARM_HIGH_TEMPERATURE, 1},
		{0, 4, BMS_ALARM_HIGH_TEMPERATURE, 1},
		{0, 5, BMS_ALARM_LOW_TEMPERATURE, 1},
		{0, 6, BMS_ALARM_LOW_TEMPERATURE, 1},
	};
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		n = hand_live(f, states[i].ov, states[i].uv);
		memset(&s, 0, sizeof(s));
		CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			CU_ASSERT(s.alarm[a] == (a == states[i].a ? states[i].level : 0));
		CU_ASSERT(s.charge_fet == (states[i].ov == 0) &&
			  s.discharge_fet == (states[i].uv == 0));
	}
	/* the settings: discharge limit as a magnitude, a negative charge limit not taken */
	uint8_t g[41];
	memset(g, 0, sizeof(g));
	g[0] = 1, g[1] = 3, g[2] = 36;
	put_u16be(REG(g, 30, 30), (uint16_t)-150);
	put_u16be(REG(g, 30, 31), 100);
	put_u16be(REG(g, 30, 46), 0x45C0); /* 280000 = 0x000445C0 */
	put_u16be(REG(g, 30, 47), 0x0004);
	fc3_fix_crc(g, sizeof(g));
	rq = (struct bms_request){.kind = BMS_REQ_POLL, .step = 2, .cycle = 1};
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->parse(st, &rq, g, sizeof(g), &s) == 0);
	CU_ASSERT(s.max_discharge_ma == 150000 && s.max_charge_ma == 100000 &&
		  s.capacity_full_mah == 280000);
	put_u16be(REG(g, 30, 31), (uint16_t)-5);
	put_u16be(REG(g, 30, 46), 0);
	put_u16be(REG(g, 30, 47), 0);
	fc3_fix_crc(g, sizeof(g));
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->parse(st, &rq, g, sizeof(g), &s) == 0);
	CU_ASSERT(s.valid == BMS_V_MAX_DISCHARGE_I);
	put_u16be(REG(g, 30, 47), 0x004D); /* 5046 Ah */
	fc3_fix_crc(g, sizeof(g));
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(st, &rq, g, sizeof(g), &s) == -EPROTO && s.valid == 0);
	CU_ASSERT_FATAL(bms_driver_describe(DRV, g, sizeof(g), &x) == 0);
	it = dc_desc_find(&x, "charge_limit_raw_a");
	CU_ASSERT(x.command == 30 && it && it->num == -5);
}

static void test_rejects(void)
{
	uint8_t f[80], g[80], st[16];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->init(st, 1) == 0);
	struct bms_request rq = {.kind = BMS_REQ_PROBE, .step = 1};
	size_t n = hand_live(f, 0, 0);
	static const struct {
		unsigned reg;
		uint16_t lo, hi; /* a 32-bit value, or lo alone for a 16-bit register */
		bool wide;
	} bad[] = {
		{108, 0, 0, true},           /* 0 V */
		{108, 0x4BF1, 0x0002, true}, /* 150.001 V */
		{114, 0x8481, 0x001E, true}, /* 2000.001 A */
		{128, 0x86A1, 0x0001, true}, /* 100.001 % */
		{130, 7, 0, false},          {131, 7, 0, false}, {102, (uint16_t)-4001, 0, false},
		{103, 10001, 0, false},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(g, f, n);
		put_u16be(REG(g, 102, bad[i].reg), bad[i].lo);
		if (bad[i].wide)
			put_u16be(REG(g, 102, bad[i].reg + 1), bad[i].hi);
		fc3_fix_crc(g, n);
		int r = DRV->parse(st, &rq, g, n, &s);
		if (r != -EPROTO)
			fprintf(stderr, "ecs reject %zu: %d\n", i, r);
		CU_ASSERT(r == -EPROTO);
	}
	CU_ASSERT(s.valid == 0);
	fc3_check_foreign(DRV, &rq, f, n);
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 1, &s, MUST_VALID);
	dc_check_alarm_mask(DRV, 1, &s);
	CU_ASSERT(fc3_check_sim_frames(DRV, 1, &s) == 3);
	s.current_ma = 1999999;
	s.alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] = 0;
	s.alarm[BMS_ALARM_LOW_VOLTAGE] = 2;
	s.charge_fet = true;
	s.discharge_fet = false;
	snprintf(s.model, sizeof(s.model), "GreenMeter-125A");
	dc_check_sim_roundtrip(DRV, 247, &s, MUST_VALID);
}

static void test_other_families(void)
{
	CU_ASSERT(fc3_refuses_others(DRV, 2) >= 7);
}

/* ---- property test ---- */

static void side(struct bms_snapshot *s, bool *fet, enum bms_alarm v, enum bms_alarm c,
		 enum bms_alarm hot, enum bms_alarm cold)
{
	unsigned st = dc_rnd(5);
	*fet = st == 0;
	static const uint8_t level[5] = {0, 2, 1, 1, 1};
	const enum bms_alarm which[5] = {v, v, c, hot, cold};
	if (st)
		s->alarm[which[st]] = level[st];
}

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->voltage_mv = (int32_t)(1 + dc_rnd(150000));
	s->current_ma = (int32_t)dc_rnd(4000001) - 2000000;
	s->soc_cpct = (uint16_t)dc_rnd(10001);
	s->temp_count = 2;
	s->temp_dc[0] = (int16_t)((int)dc_rnd(1401) - 400);
	s->temp_dc[1] = (int16_t)((int)dc_rnd(1401) - 400);
	side(s, &s->charge_fet, BMS_ALARM_HIGH_VOLTAGE, BMS_ALARM_HIGH_CHARGE_CURRENT,
	     BMS_ALARM_HIGH_CHARGE_TEMPERATURE, BMS_ALARM_LOW_CHARGE_TEMPERATURE);
	side(s, &s->discharge_fet, BMS_ALARM_LOW_VOLTAGE, BMS_ALARM_HIGH_DISCHARGE_CURRENT,
	     BMS_ALARM_HIGH_TEMPERATURE, BMS_ALARM_LOW_TEMPERATURE);
	s->max_charge_ma = (int32_t)dc_rnd(32768) * 1000;
	s->max_discharge_ma = (int32_t)dc_rnd(32768) * 1000;
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(5000000));
	static const char *const models[] = {"GreenMeter-500A", "GreenMeter-250A",
					     "GreenMeter-125A"};
	snprintf(s->model, sizeof(s->model), "%s", models[dc_rnd(3)]);
	s->valid = MUST_VALID;
}

static void test_property(void)
{
	CU_ASSERT(dc_check_property(DRV, 0x454353ull /* "ECS" */, 400, 1, 247, random_state) ==
		  400);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"link_and_requests", test_link_and_requests},
		{"hand_blocks", test_hand_blocks},
		{"rejects", test_rejects},
		{"sim_roundtrip", test_sim_roundtrip},
		{"other_families", test_other_families},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("ecs", tests);
}
