/* SPDX-License-Identifier: MIT */
/*
 * The DR-1363 families, Daren ('~', CID1 0x4A) and KS48100 ('>', CID1 0x42):
 * vectors, requests, simulator, alarms, several packs on one bus, each
 * other and the '~' siblings refused, READ and describe, random states. Most
 * checks run for both drivers from one table.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/dr1363.h"
#include "bms/pylon_ascii.h"
#include "bms/sim/sim.h"
#include "tests/bms/ascii_checks.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_daren, bms_ks48100;
static const struct bms_driver *const drivers[] = {&bms_daren, &bms_ks48100};
#define NDRV 2

static enum dc_map dr_map(const struct bms_driver *drv, const char *key,
			  const struct bms_snapshot *s, const uint8_t *frame, size_t len,
			  struct dc_value *ret)
{
	struct bms_frame_desc d;
	if (bms_driver_describe(drv, frame, len, &d) != 0)
		return DC_UNKNOWN;
	enum dc_map m = dc_map_ids(key, s, ret);
	return m != DC_UNKNOWN ? m : dc_map_desc(&d, key, s, ret);
}

static enum dc_map daren_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			     size_t len, struct dc_value *ret)
{
	return dr_map(&bms_daren, key, s, frame, len, ret);
}

static enum dc_map ks_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	return dr_map(&bms_ks48100, key, s, frame, len, ret);
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(&bms_daren, "response") == 2);
	CU_ASSERT(dc_check_vectors(&bms_daren, 1, daren_map) == 2);
	CU_ASSERT(dc_check_family_frames(&bms_daren) == 2);
	CU_ASSERT(dc_count(&bms_ks48100, "response") == 1);
	CU_ASSERT(dc_check_vectors(&bms_ks48100, 1, ks_map) == 1);
	CU_ASSERT(dc_check_family_frames(&bms_ks48100) == 1);
}

/*
 * cpttinkering's requests are ours byte for byte; KS48100's are ks48100.py's
 * rules: '>', CID1 0x42, 0x42 without INFO.
 */
static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(&bms_daren, 1) == 2);
	uint8_t st[64], req[64];
	struct bms_request rq = {.kind = BMS_REQ_PROBE};
	CU_ASSERT_FATAL(bms_ks48100.init(st, 1) == 0);
	int n = bms_ks48100.build_request(st, &rq, req, sizeof(req));
	CU_ASSERT(n == 18 && memcmp(req, ">220142420000FDAF\r", 18) == 0);
	rq.kind = BMS_REQ_POLL;
	rq.step = 1;
	n = bms_ks48100.build_request(st, &rq, req, sizeof(req));
	CU_ASSERT(n == 18 && memcmp(req, ">220142510000FDAF\r", 18) == 0);
	/* Daren at ADR 2: INFO stays 01 (the Tian Power capture) */
	CU_ASSERT_FATAL(bms_daren.init(st, 2) == 0);
	rq.step = 0;
	n = bms_daren.build_request(st, &rq, req, sizeof(req));
	CU_ASSERT(n == 20 && memcmp(req, "~22024A42E00201FD27\r", 20) == 0);
}

/* The capture's meaning beyond the keys: the snapshot in our units, no alarm raised. */
static void test_capture(void)
{
	uint8_t f[512];
	struct bms_snapshot s;
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	size_t n = dc_vector_frame("daren", "response", 0, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(&bms_daren, 1, &rq, f, n, &s) == 0);
	CU_ASSERT(s.soc_cpct == 6700 && s.voltage_mv == 53120 && s.soh_cpct == 8000);
	CU_ASSERT(s.capacity_full_mah == 80000 && s.capacity_remain_mah == 53600);
	CU_ASSERT(s.cell_count == 16 && s.cell_mv[2] == 3291 && s.temp_count == 4);
	CU_ASSERT(s.mosfet_temp_dc == 270 && s.cycles == 204);
	uint8_t none[BMS_ALARM_COUNT] = {0};
	CU_ASSERT(!memcmp(s.alarm, none, sizeof(none)) && s.charge_fet && s.discharge_fet);
	/*
	 * The same frame is not a KS48100's (CID1 0x4A), the constructed KS one not a
	 * Daren's: another family's reply at our ADR is a refusal, as for every '~'
	 * driver; at another ADR it is someone else's
	 */
	CU_ASSERT(dc_parse_at(&bms_ks48100, 1, &rq, f, n, &s) == -EPROTO && s.valid == 0);
	CU_ASSERT(dc_parse_at(&bms_ks48100, 2, &rq, f, n, &s) == BMS_FOREIGN && s.valid == 0);
	n = dc_vector_frame("ks48100", "response", 0, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &rq, f, n, &s) == -EBADMSG && s.valid == 0);
	/* a KS48100 reply that starts with '~' is taken as well (no capture says which) */
	f[0] = '~';
	CU_ASSERT(dc_parse_at(&bms_ks48100, 1, &rq, f, n, &s) == 0 && s.soc_cpct == 6700);
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &rq, f, n, &s) == -EPROTO && s.valid == 0);
	/* a VER 0x20 pack at our ADR refusing our VER (RTN 0x01): a refusal, not -EREMOTEIO */
	int k = bms_pylon_request(0x20, 1, 0x46, 0x01, NULL, 0, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &rq, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	dc_set_cells(&s, 16, 3310);
	s.current_ma = -8760;
	s.soc_cpct = 7123;
	s.soh_cpct = 9900;
	s.capacity_full_mah = 100000;
	s.capacity_remain_mah = 71230;
	s.cycles = 77;
	s.temp_count = 4;
	s.temp_dc[0] = 251;
	s.temp_dc[1] = -35;
	s.temp_dc[2] = 0;
	s.temp_dc[3] = 402;
	s.mosfet_temp_dc = 333;
	s.charge_fet = true;
	s.discharge_fet = false;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 1;
	s.alarm[BMS_ALARM_LOW_TEMPERATURE] = 2;
	s.alarm[BMS_ALARM_FUSE_BLOWN] = 2;
	strcpy(s.model, "HUANY04");
	strcpy(s.hw_version, "T1_G");
	strcpy(s.sw_version, "01.00.02");
	s.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH |
		  BMS_V_CAP_FULL | BMS_V_CAP_REMAIN | BMS_V_CYCLES | BMS_V_TEMPS |
		  BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_ALARMS | BMS_V_MODEL | BMS_V_HW_VERSION |
		  BMS_V_SW_VERSION;
	return s;
}

static void test_sim_roundtrip(void)
{
	for (unsigned i = 0; i < NDRV; i++) {
		struct bms_snapshot s = sample_state();
		dc_check_sim_roundtrip(drivers[i], 1, &s, s.valid);
		s.temp_count = 0; /* a pack without cell sensors */
		s.cell_count = 8;
		memset(s.alarm, 0, sizeof(s.alarm));
		s.alarm[BMS_ALARM_HIGH_CURRENT] = 2;
		s.alarm[BMS_ALARM_LOW_SOC] = 2;
		dc_check_sim_roundtrip(drivers[i], 15, &s, s.valid);
	}
}

static void test_alarm_mask(void)
{
	for (unsigned i = 0; i < NDRV; i++) {
		struct bms_snapshot s = sample_state();
		dc_check_alarm_mask(drivers[i], 1, &s);
	}
}

/*
 * Several packs on one bus: each answers only its ADR; another pack's
 * reply, a request on the line (a master pack's, our echo) is someone
 * else's (BMS_FOREIGN, nothing written); our pack's refusal -EREMOTEIO.
 */
static void test_bus(void)
{
	for (unsigned i = 0; i < NDRV; i++) {
		const struct bms_driver *drv = drivers[i];
		struct bms_snapshot dev = sample_state();
		uint8_t st[64], req[64], rep[512];
		struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
		CU_ASSERT_FATAL(drv->init(st, 3) == 0);
		int n = drv->build_request(st, &rq, req, sizeof(req));
		CU_ASSERT_FATAL(n > 0);
		/* answered by pack 3 alone, foreign to packs 2 and 4, our echo foreign */
		dc_check_neighbours(drv, 3, &dev, &rq, req, (size_t)n);
		struct bms_snapshot s;
		int m;
		/* a refusal (RTN 0x04) from our pack, with the family's SOI */
		uint8_t cid1 = i == 0 ? 0x4A : 0x42;
		int k = bms_pylon_request(DR_VER, 3, cid1, 0x04, NULL, 0, rep, sizeof(rep));
		rep[0] = req[0];
		CU_ASSERT(dc_parse_at(drv, 3, &rq, rep, (size_t)k, &s) == -EREMOTEIO &&
			  s.valid == 0);
		/* the simulator: another VER RTN 0x01, an unknown command RTN 0x04 */
		k = bms_pylon_request(0x20, 3, cid1, DR_REALTIME, NULL, 0, req, sizeof(req));
		req[0] = rep[0];
		m = bms_sim_respond(drv, &dev, 3, req, (size_t)k, rep, sizeof(rep));
		CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '1');
		k = bms_pylon_request(DR_VER, 3, cid1, 0x47, NULL, 0, req, sizeof(req));
		req[0] = rep[0];
		m = bms_sim_respond(drv, &dev, 3, req, (size_t)k, rep, sizeof(rep));
		CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '4');
		CU_ASSERT(drv->init(st, 0) == -EINVAL);
		CU_ASSERT(drv->init(st, DR_ADDR_MAX + 1) == -EINVAL);
	}
}

/* A realtime reply that does not fit the layout exactly is refused. */
static void test_layouts(void)
{
	uint8_t f[512], d[DR_MAX_INFO];
	struct bms_snapshot s;
	struct bms_request rt = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	struct bms_request maker = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
	size_t n = dc_vector_frame("daren", "response", 0, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &maker, f, n, &s) == -EPROTO && s.valid == 0);
	struct bms_pylon_frame pf;
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, f, n, &pf) == 0);
	int in = bms_pylon_info(&pf, d, sizeof(d));
	CU_ASSERT_FATAL(in == 99);
	/* one byte short and one long: the counts no longer match */
	int k = bms_pylon_request(DR_VER, 1, 0x4A, 0, d, (size_t)in - 1, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &rt, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	k = bms_pylon_request(DR_VER, 1, 0x4A, 0, d, (size_t)in + 2, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &rt, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* SOC above 100 %, SOH above 100 % */
	put_u16be(d + 1, 10001);
	k = bms_pylon_request(DR_VER, 1, 0x4A, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &rt, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	put_u16be(d + 1, 6700);
	put_u16be(d + 57, 101); /* SOH */
	k = bms_pylon_request(DR_VER, 1, 0x4A, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &rt, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* the maker reply must be 33..40 bytes */
	k = bms_pylon_request(DR_VER, 1, 0x4A, 0, d, DR_MAKER_MIN - 1, f, sizeof(f));
	CU_ASSERT(dc_parse_at(&bms_daren, 1, &maker, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* a header announcing more than any reply: garbage, not a wait */
	ac_check_long_header(&bms_daren, "~22014A00");
	ac_check_long_header(&bms_ks48100, ">22014A00");
}

/*
 * Daren and KS48100 are not each other, nor Pylontech, Seplos v2 or PACE:
 * captures and simulators of each family are never taken by the others.
 */
static void test_siblings(void)
{
	static const uint8_t ours[] = {1, 2, 3, 0};
	static const char *const others[] = {"pylontech", "seplos_v2", "pace"};
	CU_ASSERT(ac_refuses_vectors(&bms_daren, ours, "ks48100") == 1);
	CU_ASSERT(ac_refuses_vectors(&bms_ks48100, ours, "daren") == 2);
	ac_refuses_sim(&bms_daren, ours, "ks48100");
	ac_refuses_sim(&bms_ks48100, ours, "daren");
	for (unsigned i = 0; i < NDRV; i++)
		for (unsigned o = 0; o < 3; o++) {
			const struct bms_driver *od = bms_driver_find(others[o]);
			CU_ASSERT_FATAL(od != NULL);
			CU_ASSERT(ac_refuses_vectors(drivers[i], ours, others[o]) > 0);
			ac_refuses_sim(drivers[i], ours, others[o]);
			static const uint8_t theirs[] = {1, 2, 3, 4, 0};
			CU_ASSERT(ac_refuses_vectors(od, theirs, drivers[i]->name) ==
				  dc_count(drivers[i], "response"));
			ac_refuses_sim(od, theirs, drivers[i]->name);
		}
}

/* READ of 0x42 and 0x51; describe of requests, refusals and 0x4F. */
static void test_read_and_describe(void)
{
	for (unsigned i = 0; i < NDRV; i++) {
		const struct bms_driver *drv = drivers[i];
		struct bms_snapshot dev = sample_state();
		uint8_t rep[64];
		static const uint16_t cmds[] = {DR_REALTIME, DR_MAKER};
		static const uint32_t fills[] = {BMS_V_CELLS | BMS_V_ALARMS, BMS_V_MODEL};
		ac_check_read(drv, 2, &dev, cmds, fills, 2, 0x47);
		/* 0x4F, as cpttinkering's pack answers it: protocol version 0xC8 */
		uint8_t cid1 = i == 0 ? 0x4A : 0x42;
		int k = bms_pylon_request(DR_VER, 2, cid1, 0x00, (const uint8_t *)"\xC8", 1, rep,
					  sizeof(rep));
		rep[0] = i == 0 ? '~' : '>';
		struct bms_frame_desc d;
		CU_ASSERT(bms_driver_describe(drv, rep, (size_t)k, &d) == 0);
		CU_ASSERT(d.command == DR_PROTOCOL &&
			  dc_desc_find(&d, "protocol_version")->num == 200);
		k = bms_pylon_request(DR_VER, 2, cid1, 0x90, NULL, 0, rep, sizeof(rep));
		rep[0] = i == 0 ? '~' : '>';
		ac_check_describe_refusal(drv, rep, (size_t)k, 2, 0x90);
	}
}

/* ---- property test: random states through the simulator and the decode engine ---- */

static bool level_ok(unsigned a, uint8_t level)
{
	for (size_t i = 0; i < DR_NBITS; i++)
		if (dr_bits[i].alarm == a && dr_bits[i].level == level)
			return true;
	return false;
}

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dc_random_cells(s, 32, 2500, 1101);
	s->current_ma = ((int32_t)dc_rnd(60001) - 30000) * 10;
	s->soc_cpct = (uint16_t)dc_rnd(10001);
	s->soh_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->capacity_full_mah = (int32_t)dc_rnd(65536) * 10;
	s->capacity_remain_mah = (int32_t)dc_rnd(65536) * 10;
	s->cycles = dc_rnd(65536);
	s->temp_count = (uint8_t)dc_rnd(BMS_MAX_TEMPS + 1);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(801) - 200);
	s->mosfet_temp_dc = (int16_t)((int)dc_rnd(1001) - 200);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	dc_random_alarms(s, level_ok);
	snprintf(s->model, sizeof(s->model), "HUANY%02u", dc_rnd(100));
	snprintf(s->hw_version, sizeof(s->hw_version), "T%u_G", dc_rnd(10));
	snprintf(s->sw_version, sizeof(s->sw_version), "%02X.%02X.%02X", dc_rnd(256), dc_rnd(256),
		 dc_rnd(256));
	s->valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH |
		   BMS_V_CAP_FULL | BMS_V_CAP_REMAIN | BMS_V_CYCLES | BMS_V_TEMPS |
		   BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_ALARMS | BMS_V_MODEL | BMS_V_HW_VERSION |
		   BMS_V_SW_VERSION;
}

static void test_property(void)
{
	/* "DR13": the same states every run */
	CU_ASSERT(dc_check_property(&bms_daren, 0x44523133ull, 400, DR_ADDR_MIN, DR_ADDR_MAX,
				    random_state) == 400);
	CU_ASSERT(dc_check_property(&bms_ks48100, 0x4B533438ull, 400, DR_ADDR_MIN, DR_ADDR_MAX,
				    random_state) == 400);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"capture", test_capture},
		{"sim_roundtrip", test_sim_roundtrip},
		{"alarm_mask", test_alarm_mask},
		{"bus", test_bus},
		{"layouts", test_layouts},
		{"siblings", test_siblings},
		{"read_and_describe", test_read_and_describe},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("dr1363", tests);
}
