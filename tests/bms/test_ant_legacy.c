/* SPDX-License-Identifier: MIT */
/* ANT legacy protocol driver: vectors, frame checks, requests, simulator, refusals, property. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/ant_wire.h"
#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/ant_checks.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

#define DRV (&bms_ant_legacy)

/* The BMS's own statements the snapshot has no field for come from describe(). */
static const char *const desc_keys[] = {
	"capacity_remaining_ah", /* the snapshot holds whole mAh, truncated */
	"capacity_total_ah",
	"cycle_capacity_ah",
	"runtime_s",
	"temperatures_c",
	"charge_fet_status",
	"discharge_fet_status",
	"balancer_status",
	"max_cell_no",
	"min_cell_no",
	"max_cell_v",
	"min_cell_v",
	"avg_cell_v",
	NULL,
};

static enum dc_map old_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			   size_t len, struct dc_value *ret)
{
	(void)s;
	if (dc_key_in(key, desc_keys)) {
		enum dc_map m = ant_desc_map(DRV, key, frame, len, ret);
		CU_ASSERT(m == DC_MAPPED);
		return m;
	}
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(DRV, "response") >= 4);
	CU_ASSERT(dc_check_vectors(DRV, 0, old_map) == dc_count(DRV, "response"));
	CU_ASSERT(dc_check_family_frames(DRV) == dc_count(DRV, "response"));
}

/* We send dbus-serialbattery's DB DB form; the 5A form is ESPHome's. */
static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(DRV, 0) == 1);
}

/* The n-th captured reply of the family. */
static size_t vector_frame(unsigned nth, uint8_t *buf, size_t cap)
{
	size_t len = dc_vector_frame("ant_legacy", "response", nth, buf, cap);
	CU_ASSERT_FATAL(len == ANT_OLD_LEN);
	return len;
}

static int parse_poll(const uint8_t *f, size_t n, struct bms_snapshot *s)
{
	uint8_t st[8];
	CU_ASSERT_FATAL(DRV->state_size <= sizeof(st) && DRV->init(st, 0) == 0);
	struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = 1};
	memset(s, 0, sizeof(*s));
	return DRV->parse(st, &rq, f, n, s);
}

static void fix_sum(uint8_t *f)
{
	put_u16be(f + ANT_OLD_SUM,
		  bms_sum16(f + ANT_OLD_SUM_START, ANT_OLD_SUM - ANT_OLD_SUM_START));
}

/* What the snapshot makes of the captures beyond the stated values. */
static void test_snapshot_choices(void)
{
	uint8_t f[ANT_OLD_LEN];
	struct bms_snapshot s;
	/* 8S: no capacity configured, T3/T4 = 13 degC are the battery, discharge sign */
	size_t n = vector_frame(0, f, sizeof(f));
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(!(s.valid & BMS_V_CAP_FULL));
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 130 && s.temp_dc[1] == 130);
	CU_ASSERT(!(s.valid & BMS_V_MOSFET_TEMP));
	CU_ASSERT(s.current_ma == -10700 && s.power_mw == -285000);
	CU_ASSERT(s.charge_fet && s.discharge_fet);
	CU_ASSERT(s.valid & BMS_V_ALARMS);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		CU_ASSERT(s.alarm[a] == 0);
	/* 16S with sensors 5/6 unfitted (-40): never in the list */
	n = vector_frame(2, f, sizeof(f));
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 210 && s.temp_dc[1] == 220);
	CU_ASSERT(s.capacity_full_mah == 234000);
	/* a protection code switches the MOSFET off and raises its alarm */
	f[ANT_OLD_DSG_FET] = 0x0C;
	f[ANT_OLD_CHG_FET] = 0x05;
	fix_sum(f);
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(!s.charge_fet && !s.discharge_fet);
	CU_ASSERT(s.alarm[BMS_ALARM_HIGH_CURRENT] == 2 && s.alarm[BMS_ALARM_HIGH_VOLTAGE] == 2);
	/* battery full (charge code 4) and switched off by hand (0x0F): off, no alarm */
	f[ANT_OLD_CHG_FET] = 4;
	f[ANT_OLD_DSG_FET] = 0x0F;
	fix_sum(f);
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(!s.charge_fet && !s.discharge_fet);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		CU_ASSERT(s.alarm[a] == 0);
}

/* Values no ANT board sends refuse the frame and leave the snapshot alone. */
static void test_rejects(void)
{
	uint8_t f[ANT_OLD_LEN], g[ANT_OLD_LEN];
	struct bms_snapshot s;
	size_t n = vector_frame(1, f, sizeof(f));
	static const struct {
		size_t off;
		uint8_t v;
	} bad[] = {
		{ANT_OLD_NCELLS, 0},       {ANT_OLD_NCELLS, 33},
		{ANT_OLD_SOC, 101},        {ANT_OLD_CURRENT, 0x7F}, /* +214 MA */
		{ANT_OLD_TEMPS + 4, 0x7F},                          /* T3 = 32 kdegC */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(g, f, n);
		g[bad[i].off] = bad[i].v;
		fix_sum(g);
		CU_ASSERT(parse_poll(g, n, &s) == -EPROTO);
		CU_ASSERT(s.valid == 0);
	}
	/* a bad sum, a wrong header: no frame */
	memcpy(g, f, n);
	g[ANT_OLD_SUM] ^= 1;
	CU_ASSERT(parse_poll(g, n, &s) == -EBADMSG);
	memcpy(g, f, n);
	g[3] = 0xFE;
	fix_sum(g);
	CU_ASSERT(parse_poll(g, n, &s) == -EBADMSG);
	/* our echo (or ESPHome's read from another master) is foreign */
	static const uint8_t echo[] = {0xDB, 0xDB, 0, 0, 0, 0};
	static const uint8_t esp[] = {0x5A, 0x5A, 0, 0, 1, 1};
	CU_ASSERT(parse_poll(echo, sizeof(echo), &s) == BMS_FOREIGN);
	CU_ASSERT(parse_poll(esp, sizeof(esp), &s) == BMS_FOREIGN);
	static const uint8_t esp_bad[] = {0x5A, 0x5A, 0, 0, 1, 2};
	size_t fl;
	CU_ASSERT(DRV->frame_check(esp_bad, sizeof(esp_bad), &fl) == -1);
	/* no write is offered; READ only of the one command */
	uint8_t out[16];
	struct bms_request set = {.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET};
	CU_ASSERT(DRV->build_request(NULL, &set, out, sizeof(out)) == -EOPNOTSUPP);
	struct bms_request rd = {.kind = BMS_REQ_READ, .reg = ANT_OLD_READ_ALL};
	CU_ASSERT(DRV->build_request(NULL, &rd, out, sizeof(out)) == 6);
	rd.reg = 0x12;
	CU_ASSERT(DRV->build_request(NULL, &rd, out, sizeof(out)) == -EOPNOTSUPP);
	CU_ASSERT(!bms_driver_can_set(DRV));
}

/* Every other family's replies and captures, and the 2021 protocol's, are refused. */
static void test_refuses_others(void)
{
	CU_ASSERT(ant_check_refuses_others(DRV) > 20);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53100;
	s.current_ma = -12300;
	s.power_mw = -653000;
	s.soc_cpct = 8700;
	s.capacity_remain_mah = 87123;
	s.capacity_full_mah = 100000;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3310 + i);
	s.balancing = (1u << 3) | (1u << 15);
	s.temp_count = 2;
	s.temp_dc[0] = 230;
	s.temp_dc[1] = -50;
	s.charge_fet = true;
	s.discharge_fet = true;
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_CAP_REMAIN |
		  BMS_V_CAP_FULL | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS | BMS_V_BALANCING |
		  BMS_V_ALARMS;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
	dc_check_alarm_mask(DRV, 0, &s);
	/* charging, one FET off by a protection */
	s.current_ma = 45600;
	s.power_mw = 2421000;
	s.charge_fet = false;
	s.alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] = 2;
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
}

static void test_describe(void)
{
	size_t n;
	const struct vec *v = dc_vectors(&n);
	unsigned req = 0, rep = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].protocol, "ant_legacy"))
			continue;
		uint8_t f[256];
		int len = vec_hex(v[i].hex, f, sizeof(f));
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT_FATAL(bms_ant_legacy_describe(f, (size_t)len, &d) == 0);
		if (!strcmp(v[i].direction, "request")) {
			CU_ASSERT(d.dir == BMS_DIR_REQUEST);
			req++;
		} else {
			CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == ANT_OLD_READ_ALL);
			CU_ASSERT(d.address == -1);
			CU_ASSERT(!strcmp(d.name, "status"));
			CU_ASSERT(d.n >= 25);
			rep++;
			/* a frame one byte short is none */
			CU_ASSERT(bms_ant_legacy_describe(f, (size_t)len - 1, &d) == -1);
		}
	}
	CU_ASSERT(req == 2 && rep == dc_count(DRV, "response"));
}

/*
 * Property test: seeded random states the frame carries exactly, through
 * the simulator and the decode engine (one poll as one capture).
 */

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->cell_count = (uint8_t)(1 + dc_rnd(32));
	int32_t sum = 0;
	for (unsigned i = 0; i < s->cell_count; i++) {
		s->cell_mv[i] = (uint16_t)(2500 + dc_rnd(1701));
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum / 100 * 100;
	s->current_ma = ((int32_t)dc_rnd(8001) - 4000) * 100;
	s->power_mw = (int64_t)((int32_t)dc_rnd(200001) - 100000) * 1000;
	s->soc_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(1000000));
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah + 1);
	s->temp_count = 2;
	for (unsigned i = 0; i < 2; i++)
		s->temp_dc[i] = (int16_t)(((int)dc_rnd(121) - 30) * 10);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	uint32_t mask = s->cell_count >= 32 ? 0xFFFFFFFFu : (1u << s->cell_count) - 1;
	s->balancing = (uint32_t)(dc_rnd(1u << 16) | dc_rnd(1u << 16) << 16) & mask;
	/* at most one protection: the MOSFETs whose codes carry it are off */
	if (dc_rnd(3) == 0) {
		unsigned a;
		do
			a = dc_rnd(BMS_ALARM_COUNT);
		while (!(DRV->alarms >> a & 1u));
		s->alarm[a] = 2;
		if (ant_alarm_code(ant_chg_codes, ANT_NCODES(ant_chg_codes), a))
			s->charge_fet = false;
		if (ant_alarm_code(ant_dsg_codes, ANT_NCODES(ant_dsg_codes), a))
			s->discharge_fet = false;
	}
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_CAP_REMAIN |
		   BMS_V_CAP_FULL | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS | BMS_V_BALANCING |
		   BMS_V_ALARMS;
}

static void test_property(void)
{
	/* "ANTOLD": the same states every run */
	CU_ASSERT(dc_check_property(DRV, 0x414E544F4C44ull, 500, 0, 1, random_state) == 500);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"snapshot_choices", test_snapshot_choices},
		{"rejects", test_rejects},
		{"refuses_others", test_refuses_others},
		{"sim_roundtrip", test_sim_roundtrip},
		{"describe", test_describe},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("ant_legacy", tests);
}
