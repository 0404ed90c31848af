/* SPDX-License-Identifier: MIT */
/* Seplos v2 ('~' ASCII, VER 0x20): vectors, requests, simulator, alarms, PACE refused. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/fields.h"
#include "bms/pylon_ascii.h"
#include "bms/seplos_v2_wire.h"
#include "bms/sim/sim.h"
#include "tests/bms/ascii_checks.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_seplos_v2;
#define DRV (&bms_seplos_v2)
#define FAMILY "seplos_v2"
#define OTHER "pace"

/*
 * Snapshot keys through the common map; the values the snapshot has no field
 * for through the driver's describe function (what `serialbattery decode`
 * prints), so every stated value is checked against a decoder of ours.
 */
static enum dc_map sv_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	struct bms_frame_desc d;
	if (bms_driver_describe(DRV, frame, len, &d) != 0)
		return DC_UNKNOWN;
	if (!strcmp(key, "capacity_rated_ah") && (s->valid & BMS_V_CAP_DESIGN)) {
		ret->kind = VEC_NUM;
		ret->num = s->capacity_design_mah / 1000.0;
		return DC_MAPPED;
	}
	if (!strcmp(key, "device_name") && (s->valid & BMS_V_MODEL)) {
		ret->kind = VEC_STR;
		snprintf(ret->str, sizeof(ret->str), "%s", s->model);
		return DC_MAPPED;
	}
	if ((!strcmp(key, "charge_switch") || !strcmp(key, "discharge_switch")) &&
	    (s->valid & BMS_V_FETS)) {
		ret->kind = VEC_BOOL;
		ret->num = key[0] == 'c' ? s->charge_fet : s->discharge_fet;
		return DC_MAPPED;
	}
	if (!strcmp(key, "temperatures_c") && (s->valid & BMS_V_TEMPS))
		return dc_map_temps_env(s, &d, false, ret); /* cells, environment, power */
	if (!strcmp(key, "cell_alarm_codes"))
		return dc_desc_array(&d, "cell%u_alarm_code", BMS_MAX_CELLS, ret);
	if (!strcmp(key, "temp_alarm_codes"))
		return dc_desc_array(&d, "temp%u_alarm_code", BMS_MAX_TEMPS + 2, ret);
	/* longer than a describe key (BMS_DESC_KEY) */
	if (!strcmp(key, "alarm_event4_env_power_temp"))
		key = "alarm_event4_env_power";
	return dc_map_desc(&d, key, s, ret);
}

/*
 * The captures come from packs at ADR 0 and ADR 1 (driver addresses 1 and
 * 2): each pass checks the frames of one ADR, the others' keys are skipped
 * (the harness counts such a frame as one it never asks for: another pack's).
 */
static uint8_t map_adr;
static unsigned map_calls;
static enum dc_map sv_map_at(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			     size_t len, struct dc_value *ret)
{
	struct bms_pylon_frame f;
	if (bms_pylon_decode(NULL, frame, len, &f) == 0 && f.adr != map_adr)
		return DC_SKIP;
	map_calls++;
	return sv_map(key, s, frame, len, ret);
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(DRV, "response") == 8);
	map_adr = 0;
	CU_ASSERT(dc_check_vectors(DRV, 1, sv_map_at) == 8);
	map_adr = 1;
	map_calls = 0;
	CU_ASSERT(dc_check_vectors(DRV, 2, sv_map_at) == 8);
	CU_ASSERT(map_calls == 17); /* every key of the ADR 1 capture (issue #47) */
	CU_ASSERT(dc_check_family_frames(DRV) == 8);
}

/*
 * 0x42 pack 0, 0x4F and 0x51 are ours (0x47 system parameters we never ask);
 * at address 2 (ADR 1) the 0x42 with INFO 01 of issue #47.
 */
static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(DRV, 1) == 3);
	CU_ASSERT(dc_check_requests(DRV, 2) == 1);
}

/* The alarm-rich 0x44 capture: every event bit it holds, as the header maps it. */
static void test_alarm_capture(void)
{
	uint8_t f[512];
	int n = dc_vector_hex(FAMILY, "response", 6, f, sizeof(f));
	CU_ASSERT_FATAL(n > 0);
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
	struct bms_snapshot s;
	CU_ASSERT_FATAL(dc_parse_at(DRV, 1, &rq, f, (size_t)n, &s) == 0);
	CU_ASSERT(s.valid == (BMS_V_ALARMS | BMS_V_FETS));
	uint8_t want[BMS_ALARM_COUNT] = {0};
	want[BMS_ALARM_INTERNAL_FAILURE] = 2; /* event 1 = 0x12 */
	want[BMS_ALARM_LOW_CELL_VOLTAGE] = 2; /* event 2 bit 3 */
	want[BMS_ALARM_LOW_VOLTAGE] = 1;      /* event 2 bit 6 */
	want[BMS_ALARM_LOW_TEMPERATURE] = 2;  /* event 3 bit 7 */
	want[BMS_ALARM_CELL_IMBALANCE] = 1;   /* event 6 bit 4 */
	CU_ASSERT(memcmp(s.alarm, want, sizeof(want)) == 0);
	CU_ASSERT(!s.charge_fet && !s.discharge_fet);
	/* the quiet capture: nothing raised, both switches on */
	n = dc_vector_hex(FAMILY, "response", 3, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(DRV, 1, &rq, f, (size_t)n, &s) == 0);
	memset(want, 0, sizeof(want));
	CU_ASSERT(memcmp(s.alarm, want, sizeof(want)) == 0);
	CU_ASSERT(s.charge_fet && s.discharge_fet);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 52810;
	s.current_ma = -12340;
	s.soc_cpct = 8710;
	s.soh_cpct = 9700;
	s.capacity_remain_mah = 87120;
	s.capacity_full_mah = 100000;
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
	strcpy(s.sw_version, "2.7");
	strcpy(s.model, "1101-SP15");
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |
		  BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |
		  BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_ALARMS | BMS_V_SW_VERSION | BMS_V_MODEL;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 1, &s, s.valid);
	dc_check_alarm_mask(DRV, 1, &s);
	dc_check_sim_roundtrip(DRV, SV_ADDR_MAX, &s, s.valid);
	/* charging, 8 cells, no cell sensors, other alarms */
	s.current_ma = 150000;
	s.cell_count = 8;
	s.voltage_mv = 26500;
	s.temp_count = 0;
	memset(s.alarm, 0, sizeof(s.alarm));
	s.alarm[BMS_ALARM_HIGH_CHARGE_CURRENT] = 1;
	s.alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE] = 2;
	s.alarm[BMS_ALARM_CELL_IMBALANCE] = 1;
	dc_check_sim_roundtrip(DRV, 7, &s, s.valid);
}

/*
 * Several packs on one bus: each simulator answers only its ADR (address - 1)
 * and a reply from another pack, or any request on the line (our echo,
 * another master's), is someone else's exchange: BMS_FOREIGN, nothing
 * written. Our pack refusing (RTN) is -EREMOTEIO.
 */
static void test_bus(void)
{
	struct bms_snapshot dev = sample_state(), s;
	uint8_t st[64], req[64], rep[512];
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	CU_ASSERT_FATAL(DRV->init(st, 3) == 0);
	int n = DRV->build_request(st, &rq, req, sizeof(req));
	CU_ASSERT_FATAL(n == 20);
	CU_ASSERT(memcmp(req, "~20024642E00202FD33\r", 20) == 0); /* ADR 2, pack 2 */
	/* answered by pack 3 alone, foreign to the drivers of packs 2 and 4, our echo foreign */
	CU_ASSERT(dev.cell_count == 16);
	dc_check_neighbours(DRV, 3, &dev, &rq, req, (size_t)n);
	int m;
	/* a refusal from our pack: RTN 0x04 */
	int k = bms_pylon_request(SV_VER, 2, SV_CID1, 0x04, NULL, 0, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == -EREMOTEIO && s.valid == 0);
	/* the simulator: an unknown command RTN 0x04, another VER RTN 0x01 */
	k = bms_pylon_request(SV_VER, 2, SV_CID1, 0x47, NULL, 0, req, sizeof(req));
	m = bms_sim_respond(DRV, &dev, 3, req, (size_t)k, rep, sizeof(rep));
	CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '4');
	k = bms_pylon_request(0x25, 2, SV_CID1, 0x42, (const uint8_t *)"\x02", 1, req, sizeof(req));
	m = bms_sim_respond(DRV, &dev, 3, req, (size_t)k, rep, sizeof(rep));
	CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '1');
	/* a corrupt request gets no answer */
	n = DRV->build_request(st, &rq, req, sizeof(req));
	req[15] ^= 1;
	CU_ASSERT(bms_sim_respond(DRV, &dev, 3, req, (size_t)n, rep, sizeof(rep)) == 0);
	/* addresses beyond the 16 DIP positions are refused */
	CU_ASSERT(DRV->init(st, SV_ADDR_MAX + 1) == -EINVAL);
}

/* A reply that does not fit the asked command's layout exactly is refused. */
static void test_layouts(void)
{
	uint8_t f[512];
	struct bms_snapshot s;
	struct bms_request tele = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	struct bms_request alarms = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
	struct bms_request maker = {.kind = BMS_REQ_POLL, .step = 2, .cycle = 1};
	struct bms_request probe = {.kind = BMS_REQ_PROBE};
	int n = dc_vector_hex(FAMILY, "response", 0, f, sizeof(f));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT(dc_parse_at(DRV, 1, &tele, f, (size_t)n, &s) == 0);
	CU_ASSERT(dc_parse_at(DRV, 1, &alarms, f, (size_t)n, &s) == -EPROTO && s.valid == 0);
	CU_ASSERT(dc_parse_at(DRV, 1, &maker, f, (size_t)n, &s) == -EPROTO && s.valid == 0);
	CU_ASSERT(dc_parse_at(DRV, 1, &probe, f, (size_t)n, &s) == -EPROTO && s.valid == 0);
	/* the telemetry INFO with its custom number changed (10 -> 3, PACE's) */
	uint8_t d[SV_MAX_INFO];
	struct bms_pylon_frame pf;
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, f, (size_t)n, &pf) == 0);
	int in = bms_pylon_info(&pf, d, sizeof(d));
	CU_ASSERT_FATAL(in == 75);
	d[54] = 3;
	int k = bms_pylon_request(SV_VER, 0, SV_CID1, 0, d, (size_t)in - 14, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 1, &tele, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* one byte short */
	d[54] = 10;
	k = bms_pylon_request(SV_VER, 0, SV_CID1, 0, d, (size_t)in - 1, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 1, &tele, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* SOC above 100 % */
	put_u16be(d + 57, 1001);
	k = bms_pylon_request(SV_VER, 0, SV_CID1, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 1, &tele, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* a header announcing more than any Seplos reply: garbage, not a wait */
	ac_check_long_header(DRV, "~20004600");
}

/*
 * PACE is not Seplos v2 (issue item 2): every PACE capture and every reply of
 * the PACE simulator is refused by every step of ours, even at our ADR.
 */
static void test_refuses_pace(void)
{
	CU_ASSERT(dc_check_refuses_captures(DRV, OTHER, 2, 4) == 4);
	/* the PACE simulator at every address answers nothing we take */
	const struct bms_driver *pace = bms_driver_find(OTHER);
	if (!pace)
		return;
	struct bms_snapshot dev = sample_state();
	dc_check_refuses_sim(DRV, pace, &dev, 3, 3, false);
}

/* READ of every command we decode; describe of requests and refusals. */
static void test_read_and_describe(void)
{
	struct bms_snapshot dev = sample_state();
	uint8_t rep[64];
	static const uint16_t cmds[] = {SV_TELEMETRY, SV_ALARMS, SV_PROTOCOL, SV_MAKER};
	static const uint32_t fills[] = {BMS_V_CELLS, BMS_V_ALARMS, 0, BMS_V_MODEL};
	ac_check_read(DRV, 2, &dev, cmds, fills, 4, 0x47);
	int k = bms_pylon_request(SV_VER, 1, SV_CID1, 0x90, NULL, 0, rep, sizeof(rep));
	ac_check_describe_refusal(DRV, rep, (size_t)k, 2, 0x90);
}

/* ---- property test: random states through the simulator and the decode engine ---- */

static bool level_ok(unsigned a, uint8_t level)
{
	for (size_t i = 0; i < SV_NBITS; i++)
		if (sv_bits[i].alarm == a && sv_bits[i].level == level)
			return true;
	return false;
}

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dc_random_cells(s, 32, 2500, 1101);
	s->current_ma = ((int32_t)dc_rnd(60001) - 30000) * 10;
	s->soc_cpct = (uint16_t)(dc_rnd(1001) * 10);
	s->soh_cpct = (uint16_t)(dc_rnd(1001) * 10);
	s->capacity_design_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah / 10 + 1) * 10;
	s->cycles = dc_rnd(65536);
	s->temp_count = (uint8_t)dc_rnd(BMS_MAX_TEMPS + 1);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(801) - 200);
	s->mosfet_temp_dc = (int16_t)((int)dc_rnd(1001) - 200);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	dc_random_alarms(s, level_ok);
	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u", dc_rnd(256), dc_rnd(256));
	snprintf(s->model, sizeof(s->model), "1101-SP%02u", dc_rnd(100));
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |
		   BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |
		   BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_ALARMS | BMS_V_SW_VERSION | BMS_V_MODEL;
}

static void test_property(void)
{
	/* "SEP2": the same states every run */
	CU_ASSERT(dc_check_property(DRV, 0x53455032ull, 600, 1, SV_ADDR_MAX, random_state) == 600);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"alarm_capture", test_alarm_capture},
		{"sim_roundtrip", test_sim_roundtrip},
		{"bus", test_bus},
		{"layouts", test_layouts},
		{"refuses_pace", test_refuses_pace},
		{"read_and_describe", test_read_and_describe},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("seplos_v2", tests);
}
