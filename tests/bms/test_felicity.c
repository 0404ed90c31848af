/* SPDX-License-Identifier: MIT */
/*
 * Felicity battery (Modbus RTU, registers 0x13xx) driver: no public capture
 * exists, so blocks hand-built from the fact sheet's layout pin the coding;
 * then requests, the simulator round trip, frame conformance of every
 * reply, plausibility rejects, foreign frames, fault and status bits,
 * describe, other families' captures, and the property test.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/bms/fc3_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_felicity;
#define DRV (&bms_felicity)

#define MUST_VALID                                                                                 \
	(BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_CELLS | BMS_V_MOSFET_TEMP | BMS_V_TEMPS |           \
	 BMS_V_SOC | BMS_V_ALARMS | BMS_V_FETS | BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I)
#define ID_VALID (BMS_V_SERIAL | BMS_V_SW_VERSION)

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.cell_count = 16;
	int32_t sum = 0;
	for (unsigned i = 0; i < 16; i++)
		sum += s.cell_mv[i] = (uint16_t)(3290 + i);
	s.voltage_mv = sum / 10 * 10;
	s.current_ma = -12300;
	s.soc_cpct = 8700;
	s.temp_count = 3;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = -70;
	s.temp_dc[2] = 0;
	s.mosfet_temp_dc = 310;
	s.charge_fet = true;
	s.discharge_fet = false;
	s.max_charge_ma = 100000;
	s.max_discharge_ma = 150000;
	s.alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE] = 2;
	snprintf(s.serial, sizeof(s.serial), "12345678912345678912");
	snprintf(s.sw_version, sizeof(s.sw_version), "112");
	s.valid = MUST_VALID | ID_VALID;
	return s;
}

static void test_requests(void)
{
	static const uint8_t probe[8] = {0x01, 0x03, 0x13, 0x2A, 0x00, 0x14, 0x60, 0x89};
	/* the poll: cells and sensors, status (the probe), limits, serial, firmware */
	static const uint16_t blocks[][2] = {
		{0x132A, 20}, {0x1302, 10}, {0x131C, 4}, {0xF804, 5}, {0xF80B, 1}};
	fc3_check_requests(DRV, probe, 2, blocks, 5);
}

/* An 8S pack as the fact sheet lays it out (slots 9..16 and sensor 2 absent). */
static size_t hand_cells(uint8_t *f)
{
	f[0] = 1, f[1] = 3, f[2] = 40;
	for (unsigned i = 0; i < 16; i++)
		put_u16be(f + 3 + 2 * i, i < 8 ? (uint16_t)(3300 + i) : 0x7FFF);
	put_u16be(f + 3 + 32, 25);
	put_u16be(f + 3 + 34, 0x7FFF);
	put_u16be(f + 3 + 36, (uint16_t)-3);
	put_u16be(f + 3 + 38, 0x1234);
	fc3_fix_crc(f, 45);
	return 45;
}

/* 26.41 V, 2.5 A out of the pack, BMS 31 degC, SOC 77 %, both FETs on, no fault. */
static size_t hand_status(uint8_t *f)
{
	memset(f, 0, 25);
	f[0] = 1, f[1] = 3, f[2] = 20;
	uint8_t *d = f + 3;
	put_u16be(d + 0, 0x0005);
	put_u16be(d + 2, 0xABCD); /* 0x1303: no source names it */
	put_u16be(d + 8, 2641);
	put_u16be(d + 10, 25);
	put_u16be(d + 16, 31);
	put_u16be(d + 18, 77);
	fc3_fix_crc(f, 25);
	return 25;
}

static void test_hand_blocks(void)
{
	uint8_t f[64], st[16];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->init(st, 1) == 0);
	struct bms_request rq = {.kind = BMS_REQ_PROBE, .step = 0};
	size_t n = hand_cells(f);
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT(s.cell_count == 8 && s.cell_mv[0] == 3300 && s.cell_mv[7] == 3307);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 250 && s.temp_dc[1] == -30);
	rq.step = 1;
	n = hand_status(f);
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT(s.voltage_mv == 26410 && s.current_ma == -2500 && s.mosfet_temp_dc == 310 &&
		  s.soc_cpct == 7700 && s.charge_fet && s.discharge_fet);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		CU_ASSERT(s.alarm[a] == 0);
	struct bms_frame_desc x;
	CU_ASSERT_FATAL(bms_driver_describe(DRV, f, n, &x) == 0);
	CU_ASSERT(x.command == 0x1302 && x.address == 1);
	const struct bms_desc_item *it = dc_desc_find(&x, "register_0x1303");
	CU_ASSERT(it && it->num == 0xABCD);
	it = dc_desc_find(&x, "current_raw");
	CU_ASSERT(it && it->num == 25);
	/* the simulator holding those values sends these bytes (0x1303 aside) */
	uint8_t g[64];
	size_t m = fc3_sim_reply(DRV, 1, BMS_REQ_PROBE, 1, &s, g, sizeof(g));
	put_u16be(g + 3 + 2, 0xABCD);
	fc3_fix_crc(g, m);
	CU_ASSERT(m == n && !memcmp(f, g, n));
	n = hand_cells(f);
	m = fc3_sim_reply(DRV, 1, BMS_REQ_PROBE, 0, &s, g, sizeof(g));
	put_u16be(g + 3 + 38, 0x1234);
	fc3_fix_crc(g, m);
	/* the simulator fills the sensors in order: sensor 2 present, 3 absent */
	CU_ASSERT(m == n && !memcmp(f, g, 3 + 34));
	CU_ASSERT_FATAL(bms_driver_describe(DRV, f, n, &x) == 0);
	it = dc_desc_find(&x, "register_0x133D");
	CU_ASSERT(x.command == 0x132A && it && it->num == 0x1234);

	/* faults and status */
	static const struct {
		uint16_t bit;
		enum bms_alarm a;
	} faults[] = {
		{1u << 2, BMS_ALARM_HIGH_CELL_VOLTAGE},
		{1u << 3, BMS_ALARM_LOW_CELL_VOLTAGE},
		{1u << 4, BMS_ALARM_HIGH_CHARGE_CURRENT},
		{1u << 5, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
		{1u << 6, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
		{1u << 8, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
		{1u << 9, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
		{1u << 7, BMS_ALARM_COUNT}, /* not documented: nothing */
		{1u << 0, BMS_ALARM_COUNT},
	};
	n = hand_status(f);
	rq.step = 1;
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		put_u16be(f + 3 + 4, faults[i].bit);
		put_u16be(f + 3, (uint16_t)(i & 1 ? 0x0001 : 0x0004));
		fc3_fix_crc(f, n);
		memset(&s, 0, sizeof(s));
		CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			CU_ASSERT(s.alarm[a] == (a == faults[i].a ? 2 : 0));
		CU_ASSERT(s.charge_fet == (i & 1) && s.discharge_fet == !(i & 1));
	}
}

static void test_static_blocks(void)
{
	struct bms_snapshot dev = sample_state(), s;
	uint8_t f[64], st[16];
	CU_ASSERT_FATAL(DRV->init(st, 1) == 0);
	struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = 1};
	/* limits: 56.80 / 44.00 V described, the currents in 0.1 A */
	rq.step = 2;
	size_t n = fc3_sim_reply(DRV, 1, BMS_REQ_POLL, 2, &dev, f, sizeof(f));
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT(s.max_charge_ma == 100000 && s.max_discharge_ma == 150000);
	struct bms_frame_desc x;
	CU_ASSERT_FATAL(bms_driver_describe(DRV, f, n, &x) == 0);
	const struct bms_desc_item *it = dc_desc_find(&x, "charge_voltage_v");
	CU_ASSERT(x.command == 0x131C && it && fabs(it->num - 56.8) < 1e-9);
	/* the serial: five words printed in decimal, one after the other */
	rq.step = 3;
	n = fc3_sim_reply(DRV, 1, BMS_REQ_POLL, 3, &dev, f, sizeof(f));
	CU_ASSERT(n == 15 && f[3] == 0x04 && f[4] == 0xD2); /* 1234 */
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT_STRING_EQUAL(s.serial, "12345678912345678912");
	put_u16be(f + 3, 7);
	put_u16be(f + 5, 0);
	fc3_fix_crc(f, n);
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT_STRING_EQUAL(s.serial, "70912345678912");
	memset(f + 3, 0, 10);
	fc3_fix_crc(f, n);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(st, &rq, f, n, &s) == 0 && s.valid == 0);
	/* the firmware, a signed word; 0 states none */
	rq.step = 4;
	n = fc3_sim_reply(DRV, 1, BMS_REQ_POLL, 4, &dev, f, sizeof(f));
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(st, &rq, f, n, &s) == 0 && s.valid == BMS_V_SW_VERSION);
	CU_ASSERT_STRING_EQUAL(s.sw_version, "112");
	put_u16be(f + 3, 0);
	fc3_fix_crc(f, n);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(st, &rq, f, n, &s) == 0 && s.valid == 0);
	CU_ASSERT(bms_driver_describe(DRV, f, n, &x) == 0 && x.command == 0xF80B);
}

/* Values no Felicity sends refuse the block, writing nothing. */
static void test_rejects(void)
{
	uint8_t f[64], g[64], st[16];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(DRV->init(st, 1) == 0);
	struct bms_request rq = {.kind = BMS_REQ_PROBE, .step = 0};
	size_t n = hand_cells(f);
	static const struct {
		unsigned slot;
		uint16_t v;
	} bad[] = {
		{0, 0x7FFF}, /* no cell at all ... */
		{9, 3300},   /* a cell after an absent slot */
		{3, 999},    /* below 1 V */
		{3, 5001},   /* above 5 V */
		{3, 0},      /* a dead slot that is not 0x7FFF */
		{16, 101},   /* sensor 1 at 101 degC */
		{17, (uint16_t)-41},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(g, f, n);
		if (i == 0)
			for (unsigned k = 0; k < 8; k++)
				put_u16be(g + 3 + 2 * k, 0x7FFF);
		put_u16be(g + 3 + 2 * bad[i].slot, bad[i].v);
		fc3_fix_crc(g, n);
		int r = DRV->parse(st, &rq, g, n, &s);
		if (r != -EPROTO)
			fprintf(stderr, "felicity reject cells %zu: %d\n", i, r);
		CU_ASSERT(r == -EPROTO);
	}
	CU_ASSERT(s.valid == 0);
	/* the status block: SOC, BMS temperature, no voltage, not the cells' sum */
	CU_ASSERT_FATAL(DRV->parse(st, &rq, f, n, &s) == 0); /* 8 cells, 26.428 V */
	struct bms_snapshot cells = s;
	rq.step = 1;
	n = hand_status(f);
	static const struct {
		unsigned off;
		uint16_t v;
	} sbad[] = {{18, 101}, {16, 121}, {16, (uint16_t)-41}, {8, 0}, {8, 2310}, {8, 2975}};
	for (size_t i = 0; i < sizeof(sbad) / sizeof(sbad[0]); i++) {
		memcpy(g, f, n);
		put_u16be(g + 3 + sbad[i].off, sbad[i].v);
		fc3_fix_crc(g, n);
		s = cells;
		int r = DRV->parse(st, &rq, g, n, &s);
		if (r != -EPROTO)
			fprintf(stderr, "felicity reject status %zu: %d\n", i, r);
		CU_ASSERT(r == -EPROTO && !memcmp(&s, &cells, sizeof(s)));
	}
	/* the edges that hold: 5 % + 2 V either side, SOC 100, -40 and 120 degC */
	static const struct {
		unsigned off;
		uint16_t v;
	} good[] = {{8, 2311}, {8, 2974}, {18, 100}, {16, 120}, {16, (uint16_t)-40}};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memcpy(g, f, n);
		put_u16be(g + 3 + good[i].off, good[i].v);
		fc3_fix_crc(g, n);
		s = cells;
		CU_ASSERT(DRV->parse(st, &rq, g, n, &s) == 0);
	}
	fc3_check_foreign(DRV, &rq, f, n);
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 1, &s, MUST_VALID | ID_VALID);
	dc_check_alarm_mask(DRV, 1, &s);
	CU_ASSERT(fc3_check_sim_frames(DRV, 1, &s) == 5);
	s.cell_count = 1;
	s.cell_mv[0] = 3500;
	s.voltage_mv = 3500;
	s.temp_count = 0;
	memset(s.temp_dc, 0, sizeof(s.temp_dc));
	memset(s.cell_mv + 1, 0, sizeof(s.cell_mv) - sizeof(s.cell_mv[0]));
	s.current_ma = 3276700;
	dc_check_sim_roundtrip(DRV, 247, &s, MUST_VALID | ID_VALID);
}

static void test_other_families(void)
{
	CU_ASSERT(fc3_refuses_others(DRV, 2) >= 7);
}

/* ---- property test ---- */

static bool level_ok(unsigned a, uint8_t level)
{
	return (DRV->alarms >> a & 1u) && level == 2;
}

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->cell_count = (uint8_t)(1 + dc_rnd(16));
	int32_t sum = 0;
	for (unsigned i = 0; i < s->cell_count; i++)
		sum += s->cell_mv[i] = (uint16_t)(2500 + dc_rnd(1151));
	s->voltage_mv = (sum + (int32_t)dc_rnd(2001) - 1000) / 10 * 10;
	s->current_ma = ((int32_t)dc_rnd(65535) - 32767) * 100;
	s->soc_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->temp_count = (uint8_t)dc_rnd(4);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)(((int)dc_rnd(141) - 40) * 10);
	s->mosfet_temp_dc = (int16_t)(((int)dc_rnd(161) - 40) * 10);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	s->max_charge_ma = (int32_t)dc_rnd(65536) * 100;
	s->max_discharge_ma = (int32_t)dc_rnd(65536) * 100;
	dc_random_alarms(s, level_ok);
	for (unsigned i = 0; i < 20; i++)
		s->serial[i] = (char)('1' + dc_rnd(9));
	snprintf(s->sw_version, sizeof(s->sw_version), "%d", (int)dc_rnd(32767) + 1);
	s->valid = MUST_VALID | ID_VALID;
}

static void test_property(void)
{
	CU_ASSERT(dc_check_property(DRV, 0x46454c4943ull /* "FELIC" */, 400, 1, 247,
				    random_state) == 400);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"requests", test_requests},           {"hand_blocks", test_hand_blocks},
		{"static_blocks", test_static_blocks}, {"rejects", test_rejects},
		{"sim_roundtrip", test_sim_roundtrip}, {"other_families", test_other_families},
		{"property", test_property},           {NULL, NULL},
	};
	return sb_add_suite("felicity", tests);
}
