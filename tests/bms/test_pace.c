/* SPDX-License-Identifier: MIT */
/* PACE ('~' ASCII, VER 0x25): vectors, requests, simulator, alarms, Seplos v2 refused. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/fields.h"
#include "bms/pylon_ascii.h"
#include "bms/pace_wire.h"
#include "bms/sim/sim.h"
#include "tests/bms/ascii_checks.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_pace;
#define DRV (&bms_pace)
#define FAMILY "pace"
#define OTHER "seplos_v2"

/*
 * Snapshot keys through the common map; the values the snapshot has no field
 * for through the driver's describe function (what `serialbattery decode`
 * prints), so every stated value is checked against a decoder of ours.
 */
static enum dc_map pace_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			    size_t len, struct dc_value *ret)
{
	struct bms_frame_desc d;
	if (bms_driver_describe(DRV, frame, len, &d) != 0)
		return DC_UNKNOWN;
	enum dc_map m = dc_map_ids(key, s, ret);
	if (m != DC_UNKNOWN)
		return m;
	if (!strcmp(key, "temperatures_c") && (s->valid & BMS_V_TEMPS))
		return dc_map_temps_env(s, &d, true, ret); /* cells, MOSFET, environment */
	if (!strcmp(key, "cell_warnings"))
		return dc_desc_array(&d, "cell%u_warning", BMS_MAX_CELLS, ret);
	if (!strcmp(key, "temp_warnings"))
		return dc_desc_array(&d, "temp%u_warning", BMS_MAX_TEMPS + 2, ret);
	return dc_map_desc(&d, key, s, ret);
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(DRV, "response") == 4);
	CU_ASSERT(dc_check_vectors(DRV, 2, pace_map) == 4);
	CU_ASSERT(dc_check_family_frames(DRV) == 4);
}

/* 0x42 for ADR 1 with INFO 01 and 0xC1 without INFO are ours (INFO FF, "all packs", we
 * never ask). */
static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(DRV, 2) == 2);
}

/* What the captures hold beyond the stated values: SOC derived, FETs, no alarm. */
static void test_capture_extras(void)
{
	uint8_t f[512];
	struct bms_snapshot s;
	struct bms_request tele = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	struct bms_request status = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
	int n = dc_vector_hex(FAMILY, "response", 0, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &tele, f, (size_t)n, &s) == 0);
	/* 48.19 of 103.46 Ah: 46.57 %, rounded down */
	CU_ASSERT(s.soc_cpct == 4657 && (s.valid & BMS_V_SOC));
	CU_ASSERT(s.temp_count == 4 && s.mosfet_temp_dc == 265);
	CU_ASSERT(!(s.valid & BMS_V_SOH));
	n = dc_vector_hex(FAMILY, "response", 1, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &status, f, (size_t)n, &s) == 0);
	CU_ASSERT(s.valid == (BMS_V_ALARMS | BMS_V_FETS));
	CU_ASSERT(s.charge_fet && s.discharge_fet);
	uint8_t zero[BMS_ALARM_COUNT] = {0};
	CU_ASSERT(memcmp(s.alarm, zero, sizeof(zero)) == 0);
	/* the status tail starts after the sensor codes (26 bytes at 16 cells, 6 sensors):
	 * pace.py reads it one ASCII character early */
	uint8_t d[PACE_MAX_INFO];
	struct bms_pylon_frame pf;
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, f, (size_t)n, &pf) == 0);
	int in = bms_pylon_info(&pf, d, sizeof(d));
	CU_ASSERT_FATAL(in == 38);
	CU_ASSERT(d[26 + PACE_SYSTEM] == 0x0E);
}

/* Every status bit of the header's map, alone, raises its alarm at its level. */
static void test_status_bits(void)
{
	uint8_t f[512], d[PACE_MAX_INFO];
	int n = dc_vector_hex(FAMILY, "response", 1, f, sizeof(f));
	struct bms_pylon_frame pf;
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, f, (size_t)n, &pf) == 0);
	int in = bms_pylon_info(&pf, d, sizeof(d));
	CU_ASSERT_FATAL(in == 38);
	struct bms_request status = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
	for (size_t i = 0; i < PACE_NBITS; i++) {
		uint8_t e[PACE_MAX_INFO];
		memcpy(e, d, (size_t)in);
		e[26 + pace_bits[i].byte] |= (uint8_t)(1u << pace_bits[i].bit);
		int k = bms_pylon_request(PACE_VER, 1, PACE_CID1, 0, e, (size_t)in, f, sizeof(f));
		struct bms_snapshot s;
		CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &status, f, (size_t)k, &s) == 0);
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			CU_ASSERT(s.alarm[a] == (a == pace_bits[i].alarm ? pace_bits[i].level : 0));
	}
	/* "fully" (protection 2 bit 7) and balancing raise nothing */
	d[26 + PACE_PROT2] = 0x80;
	d[26 + PACE_BAL_HI] = 0xFF;
	d[26 + PACE_BAL_LO] = 0xFF;
	d[26 + PACE_SYSTEM] = 0;
	int k = bms_pylon_request(PACE_VER, 1, PACE_CID1, 0, d, (size_t)in, f, sizeof(f));
	struct bms_snapshot s;
	CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &status, f, (size_t)k, &s) == 0);
	uint8_t zero[BMS_ALARM_COUNT] = {0};
	CU_ASSERT(memcmp(s.alarm, zero, sizeof(zero)) == 0);
	CU_ASSERT(!s.charge_fet && !s.discharge_fet);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 52813;
	s.current_ma = -12340;
	s.capacity_remain_mah = 87120;
	s.capacity_full_mah = 100000;
	s.soc_cpct = 8712;
	s.capacity_design_mah = 105000;
	s.cycles = 42;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3300 + i);
	s.temp_count = 4;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = -70;
	s.temp_dc[2] = 0;
	s.temp_dc[3] = 412;
	s.mosfet_temp_dc = 310;
	s.charge_fet = true;
	s.discharge_fet = false;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 2;
	s.alarm[BMS_ALARM_LOW_SOC] = 1;
	s.alarm[BMS_ALARM_INTERNAL_FAILURE] = 2;
	s.alarm[BMS_ALARM_HIGH_CURRENT] = 1;
	strcpy(s.hw_version, "P16S100A-1812-1.00");
	strcpy(s.serial, "1812101380309D");
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		  BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP |
		  BMS_V_FETS | BMS_V_ALARMS | BMS_V_HW_VERSION | BMS_V_SERIAL;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 2, &s, s.valid);
	dc_check_alarm_mask(DRV, 2, &s);
	dc_check_sim_roundtrip(DRV, 1, &s, s.valid);
	dc_check_sim_roundtrip(DRV, PACE_ADDR_MAX, &s, s.valid);
	/* charging, 8 cells, no cell sensors, other alarms */
	s.current_ma = 150000;
	s.cell_count = 8;
	s.voltage_mv = 26500;
	s.temp_count = 0;
	memset(s.alarm, 0, sizeof(s.alarm));
	s.alarm[BMS_ALARM_HIGH_CHARGE_CURRENT] = 1;
	s.alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE] = 2;
	s.alarm[BMS_ALARM_HIGH_INTERNAL_TEMPERATURE] = 1;
	dc_check_sim_roundtrip(DRV, 7, &s, s.valid);
}

/* Several packs on one bus: only ADR address - 1 answers; others' frames are foreign. */
static void test_bus(void)
{
	struct bms_snapshot dev = sample_state(), s;
	uint8_t st[64], req[64], rep[512];
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	CU_ASSERT_FATAL(DRV->init(st, 3) == 0);
	int n = DRV->build_request(st, &rq, req, sizeof(req));
	CU_ASSERT_FATAL(n == 20);
	CU_ASSERT(memcmp(req, "~25024642E00202FD2E\r", 20) == 0); /* ADR 2, pack 2 */
	CU_ASSERT(dev.cell_count == 16);
	dc_check_neighbours(DRV, 3, &dev, &rq, req, (size_t)n);
	int m;
	int k = bms_pylon_request(PACE_VER, 2, PACE_CID1, 0x91, NULL, 0, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == -EREMOTEIO && s.valid == 0);
	/* a Li-ion pack answering CID1 0x4F is still PACE */
	m = bms_sim_respond(DRV, &dev, 3, req, (size_t)n, rep, sizeof(rep));
	struct bms_pylon_frame pf;
	uint8_t d[PACE_MAX_INFO];
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, rep, (size_t)m, &pf) == 0);
	int in = bms_pylon_info(&pf, d, sizeof(d));
	k = bms_pylon_request(PACE_VER, 2, PACE_CID1_LIION, 0, d, (size_t)in, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == 0 && s.cell_count == 16);
	k = bms_pylon_request(PACE_VER, 2, 0x4A, 0, d, (size_t)in, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* the simulator: unknown command RTN 0x04, another VER RTN 0x01, corrupt: nothing */
	k = bms_pylon_request(PACE_VER, 2, PACE_CID1, 0x47, NULL, 0, req, sizeof(req));
	m = bms_sim_respond(DRV, &dev, 3, req, (size_t)k, rep, sizeof(rep));
	CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '4');
	k = bms_pylon_request(0x20, 2, PACE_CID1, 0x42, (const uint8_t *)"\x02", 1, req,
			      sizeof(req));
	m = bms_sim_respond(DRV, &dev, 3, req, (size_t)k, rep, sizeof(rep));
	CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '1');
	req[10] ^= 1;
	CU_ASSERT(bms_sim_respond(DRV, &dev, 3, req, (size_t)k, rep, sizeof(rep)) == 0);
	CU_ASSERT(DRV->init(st, PACE_ADDR_MAX + 1) == -EINVAL);
}

static void test_layouts(void)
{
	uint8_t f[512], d[PACE_MAX_INFO];
	struct bms_snapshot s;
	struct bms_request tele = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	struct bms_request hw = {.kind = BMS_REQ_POLL, .step = 2, .cycle = 1};
	struct bms_request sn = {.kind = BMS_REQ_POLL, .step = 3, .cycle = 1};
	int n = dc_vector_hex(FAMILY, "response", 0, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &hw, f, (size_t)n, &s) == -EPROTO && s.valid == 0);
	struct bms_pylon_frame pf;
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, f, (size_t)n, &pf) == 0);
	int in = bms_pylon_info(&pf, d, sizeof(d));
	CU_ASSERT_FATAL(in == 61);
	/* Seplos's custom number (10) and its 14 more bytes: not PACE */
	uint8_t e[PACE_MAX_INFO];
	memset(e, 0, sizeof(e));
	memcpy(e, d, (size_t)in);
	e[54] = 10;
	int k = bms_pylon_request(PACE_VER, 1, PACE_CID1, 0, e, (size_t)in + 14, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &tele, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	k = bms_pylon_request(PACE_VER, 1, PACE_CID1, 0, d, (size_t)in - 1, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &tele, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* the hardware version is 20 characters, the serial 40 */
	n = dc_vector_hex(FAMILY, "response", 2, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &sn, f, (size_t)n, &s) == -EPROTO && s.valid == 0);
	CU_ASSERT(dc_parse_at(DRV, 2, &hw, f, (size_t)n, &s) == 0 && (s.valid & BMS_V_HW_VERSION));
	n = dc_vector_hex(FAMILY, "response", 3, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &hw, f, (size_t)n, &s) == -EPROTO && s.valid == 0);
	CU_ASSERT(dc_parse_at(DRV, 2, &sn, f, (size_t)n, &s) == 0 && (s.valid & BMS_V_SERIAL));
	/* a full remaining capacity above full: SOC 100 %, not more */
	put_u16be(d + 52, 20000);
	k = bms_pylon_request(PACE_VER, 1, PACE_CID1, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &tele, f, (size_t)k, &s) == 0 && s.soc_cpct == 10000);
	/* full capacity 0: no SOC at all */
	put_u16be(d + 55, 0);
	k = bms_pylon_request(PACE_VER, 1, PACE_CID1, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &tele, f, (size_t)k, &s) == 0 && !(s.valid & BMS_V_SOC));
	/* a header announcing more than any PACE reply: garbage, not a wait */
	ac_check_long_header(DRV, "~25014600");
}

/*
 * Seplos v2 is not PACE (issue item 2): every Seplos v2 capture and every
 * reply of the Seplos v2 simulator is refused by every step of ours.
 */
static void test_refuses_seplos(void)
{
	CU_ASSERT(dc_check_refuses_captures(DRV, OTHER, 2, 5) == 8);
	const struct bms_driver *sep = bms_driver_find(OTHER);
	CU_ASSERT_FATAL(sep != NULL);
	struct bms_snapshot dev = sample_state();
	strcpy(dev.model, "1101-SP15");
	/* the Seplos answers each request (RTN 0x01, VER error), nothing we take */
	dc_check_refuses_sim(DRV, sep, &dev, 3, 4, true);
	/* and the Seplos simulator's own replies, at our ADR */
	uint8_t sst[64], req[64], rep[512];
	for (unsigned step = 0; step < 3; step++) {
		CU_ASSERT_FATAL(sep->init(sst, 2) == 0);
		struct bms_request rq = {.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
		int n = sep->build_request(sst, &rq, req, sizeof(req));
		int m = bms_sim_respond(sep, &dev, 2, req, (size_t)n, rep, sizeof(rep));
		CU_ASSERT_FATAL(m > 0);
		for (unsigned ps = 0; ps < 4; ps++) {
			struct bms_request prq = {.kind = BMS_REQ_POLL, .step = ps, .cycle = 1};
			struct bms_snapshot s;
			CU_ASSERT(dc_parse_at(DRV, 2, &prq, rep, (size_t)m, &s) < 0 &&
				  s.valid == 0);
		}
	}
}

static void test_read_and_describe(void)
{
	struct bms_snapshot dev = sample_state();
	uint8_t rep[64];
	static const uint16_t cmds[] = {PACE_TELEMETRY, PACE_STATUS, PACE_HW, PACE_SERIAL};
	static const uint32_t fills[] = {BMS_V_CELLS, BMS_V_ALARMS, BMS_V_HW_VERSION, BMS_V_SERIAL};
	ac_check_read(DRV, 2, &dev, cmds, fills, 4, 0x9A);
	int k = bms_pylon_request(PACE_VER, 1, PACE_CID1, 0x02, NULL, 0, rep, sizeof(rep));
	ac_check_describe_refusal(DRV, rep, (size_t)k, 2, 0x02);
}

/* ---- property test: random states through the simulator and the decode engine ---- */

static bool level_ok(unsigned a, uint8_t level)
{
	for (size_t i = 0; i < PACE_NBITS; i++)
		if (pace_bits[i].alarm == a && pace_bits[i].level == level)
			return true;
	return false;
}

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->cell_count = (uint8_t)(1 + dc_rnd(32));
	int32_t sum = 0;
	for (unsigned i = 0; i < s->cell_count; i++) {
		s->cell_mv[i] = (uint16_t)(2500 + dc_rnd(1101));
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum > 65535 ? 65535 : sum; /* mV in a u16 */
	s->current_ma = ((int32_t)dc_rnd(60001) - 30000) * 10;
	s->capacity_design_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah / 10 + 1) * 10;
	s->soc_cpct = (uint16_t)((int64_t)s->capacity_remain_mah * 10000 / s->capacity_full_mah);
	s->cycles = dc_rnd(65536);
	s->temp_count = (uint8_t)dc_rnd(BMS_MAX_TEMPS + 1);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(801) - 200);
	s->mosfet_temp_dc = (int16_t)((int)dc_rnd(1001) - 200);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	dc_random_alarms(s, level_ok);
	snprintf(s->hw_version, sizeof(s->hw_version), "P%02uS%03uA-%04u", s->cell_count,
		 dc_rnd(1000), dc_rnd(10000));
	snprintf(s->serial, sizeof(s->serial), "%010u%04u", dc_rnd(1000000000), dc_rnd(10000));
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		   BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP |
		   BMS_V_FETS | BMS_V_ALARMS | BMS_V_HW_VERSION | BMS_V_SERIAL;
}

static void test_property(void)
{
	/* "PACE": the same states every run */
	CU_ASSERT(dc_check_property(DRV, 0x50414345ull, 600, 1, PACE_ADDR_MAX, random_state) ==
		  600);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"capture_extras", test_capture_extras},
		{"status_bits", test_status_bits},
		{"sim_roundtrip", test_sim_roundtrip},
		{"bus", test_bus},
		{"layouts", test_layouts},
		{"refuses_seplos", test_refuses_seplos},
		{"read_and_describe", test_read_and_describe},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("pace", tests);
}
