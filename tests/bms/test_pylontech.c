/* SPDX-License-Identifier: MIT */
/*
 * Pylontech RS485 V3.3 ('~' ASCII, VER 0x20): vectors, requests, simulator,
 * alarms, a link of several packs, the siblings (Seplos v2 shares VER 0x20)
 * refused, READ and describe, random states.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/pylon_ascii.h"
#include "bms/pylontech_wire.h"
#include "bms/sim/sim.h"
#include "tests/bms/ascii_checks.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_pylontech;
#define DRV (&bms_pylontech)
#define FAMILY "pylontech"
#define RESPONSES 10

/*
 * Snapshot keys through the common map; the values the snapshot has no
 * field for through describe (what `serialbattery decode` prints). The
 * captures come from ADR 1, 2 and 3: each pass checks one ADR's frames.
 */
static uint8_t map_adr;
static unsigned map_calls;
static enum dc_map pyl_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			   size_t len, struct dc_value *ret)
{
	struct bms_pylon_frame f;
	if (bms_pylon_decode(NULL, frame, len, &f) == 0 && f.adr != map_adr)
		return DC_SKIP;
	map_calls++;
	struct bms_frame_desc d;
	if (bms_driver_describe(DRV, frame, len, &d) != 0)
		return DC_UNKNOWN;
	if (!strcmp(key, "cell_alarm_codes"))
		return dc_desc_array(&d, "cell%u_alarm_code", BMS_MAX_CELLS, ret);
	if (!strcmp(key, "temp_alarm_codes"))
		return dc_desc_array(&d, "temp%u_alarm_code", BMS_MAX_TEMPS + 1, ret);
	return dc_map_desc(&d, key, s, ret);
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(DRV, "response") == RESPONSES);
	static const uint8_t adrs[] = {1, 2, 3};
	static const unsigned keys[] = {8, 41, 4}; /* the expected keys of each ADR's frames */
	for (unsigned i = 0; i < 3; i++) {
		map_adr = adrs[i];
		map_calls = 0;
		CU_ASSERT(dc_check_vectors(DRV, adrs[i], pyl_map) == RESPONSES);
		if (map_calls != keys[i])
			fprintf(stderr, "pylontech: ADR %u mapped %u keys\n", adrs[i], map_calls);
		CU_ASSERT(map_calls == keys[i]);
	}
	CU_ASSERT(dc_check_family_frames(DRV) == RESPONSES);
}

/* martiby's four requests to ADR 2 are ours byte for byte (0x92 has no capture). */
static void test_requests(void)
{
	CU_ASSERT(dc_count(DRV, "request") == 4);
	CU_ASSERT(dc_check_requests(DRV, 2) == 4);
}

/* The captures' meaning, beyond the keys: 24-bit capacities, the 0x92 limits and permissions. */
static void test_captures(void)
{
	uint8_t f[512];
	struct bms_snapshot s;
	struct bms_request analog = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	struct bms_request manage = {.kind = BMS_REQ_POLL, .step = 2, .cycle = 1};
	/* the UP2500: P = 4, the 16-bit fields 0xFFFF, 24-bit capacities after the cycles */
	size_t n = dc_vector_frame(FAMILY, "response", 8, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &analog, f, n, &s) == 0);
	CU_ASSERT(s.capacity_remain_mah == 95460 && s.capacity_full_mah == 111000);
	CU_ASSERT(s.soc_cpct == 8600 && s.current_ma == -600 && s.voltage_mv == 26638);
	CU_ASSERT(s.cell_count == 8 && s.temp_count == 4 && s.mosfet_temp_dc == 210);
	CU_ASSERT(!(s.valid & (BMS_V_ALARMS | BMS_V_FETS)));
	/* US2000: SOC 6415/50000 rounds down to 12.83 % */
	n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &analog, f, n, &s) == 0);
	CU_ASSERT(s.soc_cpct == 1283);
	/* 0x92: 55.5 A both ways, both allowed */
	n = dc_vector_frame(FAMILY, "response", 9, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &manage, f, n, &s) == 0);
	CU_ASSERT(s.max_charge_ma == 55500 && s.max_discharge_ma == 55500);
	CU_ASSERT(s.charge_fet && s.discharge_fet);
	CU_ASSERT(s.valid == (BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_FETS));
	/* the quiet 0x44: every alarm 0 (status 2 = 0x0E says nothing we map) */
	struct bms_request alarm = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
	n = dc_vector_frame(FAMILY, "response", 2, f, sizeof(f));
	CU_ASSERT_FATAL(dc_parse_at(DRV, 2, &alarm, f, n, &s) == 0);
	uint8_t none[BMS_ALARM_COUNT] = {0};
	CU_ASSERT(s.valid == BMS_V_ALARMS && !memcmp(s.alarm, none, sizeof(none)));
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	dc_set_cells(&s, 15, 3290);
	s.current_ma = -12300;
	s.capacity_remain_mah = 30000;
	s.capacity_full_mah = 50000;
	s.soc_cpct = 6000;
	s.cycles = 321;
	s.temp_count = 4;
	s.temp_dc[0] = 215;
	s.temp_dc[1] = -42;
	s.temp_dc[2] = 0;
	s.temp_dc[3] = 301;
	s.mosfet_temp_dc = 250;
	s.max_charge_ma = 25000;
	s.max_discharge_ma = 50000;
	s.charge_fet = false;
	s.discharge_fet = true;
	s.alarm[BMS_ALARM_LOW_CELL_VOLTAGE] = 2;
	s.alarm[BMS_ALARM_HIGH_TEMPERATURE] = 2;
	s.alarm[BMS_ALARM_INTERNAL_FAILURE] = 2;
	strcpy(s.serial, "HPTCR03171112590");
	strcpy(s.model, "US2000C");
	strcpy(s.sw_version, "1.7");
	s.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		  BMS_V_SOC | BMS_V_CYCLES | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_MAX_CHARGE_I |
		  BMS_V_MAX_DISCHARGE_I | BMS_V_FETS | BMS_V_ALARMS | BMS_V_SERIAL | BMS_V_MODEL |
		  BMS_V_SW_VERSION;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 2, &s, s.valid);
	/* a US5000: above 65 Ah, the 24-bit capacities */
	s.capacity_full_mah = 100000;
	s.capacity_remain_mah = 70000;
	s.soc_cpct = 7000;
	memset(s.alarm, 0, sizeof(s.alarm));
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 2;
	s.alarm[BMS_ALARM_HIGH_VOLTAGE] = 2;
	s.alarm[BMS_ALARM_HIGH_INTERNAL_TEMPERATURE] = 2;
	dc_check_sim_roundtrip(DRV, 9, &s, s.valid);
}

static void test_alarm_mask(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_alarm_mask(DRV, 2, &s);
}

/*
 * Several packs on one link: each answers only its ADR, a reply from another
 * pack or any request on the line (our echo, another master's) is someone
 * else's exchange (BMS_FOREIGN, nothing written), our pack's refusal
 * -EREMOTEIO; addresses outside 1..17 are refused.
 */
static void test_bus(void)
{
	struct bms_snapshot dev = sample_state(), s;
	uint8_t st[64], req[64], rep[512];
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	CU_ASSERT_FATAL(DRV->init(st, 3) == 0);
	int n = DRV->build_request(st, &rq, req, sizeof(req));
	CU_ASSERT_FATAL(n == 20);
	CU_ASSERT(memcmp(req, "~20034642E00203FD31\r", 20) == 0); /* martiby's second pack */
	/* answered by pack 3 alone, foreign to the drivers of packs 2 and 4, our echo foreign */
	dc_check_neighbours(DRV, 3, &dev, &rq, req, (size_t)n);
	int m;
	int k = bms_pylon_request(PYL_VER, 3, PYL_CID1, 0x90, NULL, 0, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == -EREMOTEIO && s.valid == 0);
	/* the simulator: an unknown command RTN 0x04, another VER RTN 0x01 */
	k = bms_pylon_request(PYL_VER, 3, PYL_CID1, 0x47, NULL, 0, req, sizeof(req));
	m = bms_sim_respond(DRV, &dev, 3, req, (size_t)k, rep, sizeof(rep));
	CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '4');
	k = bms_pylon_request(0x25, 3, PYL_CID1, 0x42, (const uint8_t *)"\x03", 1, req,
			      sizeof(req));
	m = bms_sim_respond(DRV, &dev, 3, req, (size_t)k, rep, sizeof(rep));
	CU_ASSERT(m == 18 && rep[7] == '0' && rep[8] == '1');
	/* a PACE or Daren pack at our ADR refusing our VER (RTN 0x01): a refusal, as for
	 * every '~' driver, even with a good RTN; at another ADR someone else's; Seplos v2
	 * (our VER) by its layout */
	k = bms_pylon_request(0x25, 3, PYL_CID1, 0x01, NULL, 0, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == -EPROTO && s.valid == 0);
	k = bms_pylon_request(0x22, 3, 0x4A, 0x00, NULL, 0, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == -EPROTO && s.valid == 0);
	k = bms_pylon_request(0x25, 2, PYL_CID1, 0x01, NULL, 0, rep, sizeof(rep));
	CU_ASSERT(dc_parse_at(DRV, 3, &rq, rep, (size_t)k, &s) == BMS_FOREIGN && s.valid == 0);
	CU_ASSERT(DRV->init(st, 0) == -EINVAL);
	CU_ASSERT(DRV->init(st, PYL_ADDR_MAX + 1) == -EINVAL);
	CU_ASSERT(DRV->init(st, PYL_ADDR_MAX) == 0);
}

/* A reply that does not fit the asked command's layout exactly is refused. */
static void test_layouts(void)
{
	uint8_t f[512], d[PYL_MAX_INFO];
	struct bms_snapshot s;
	struct bms_request analog = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	for (unsigned step = 1; step < 5; step++) {
		struct bms_request other = {.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
		CU_ASSERT(dc_parse_at(DRV, 2, &other, f, n, &s) == -EPROTO && s.valid == 0);
	}
	struct bms_pylon_frame pf;
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, f, n, &pf) == 0);
	int in = bms_pylon_info(&pf, d, sizeof(d));
	CU_ASSERT_FATAL(in == 55);
	/* P = 10 (Seplos v2's custom number) */
	d[50] = 10;
	int k = bms_pylon_request(PYL_VER, 2, PYL_CID1, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &analog, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* P = 4 without the 24-bit capacities */
	d[50] = PYL_USER_LONG;
	k = bms_pylon_request(PYL_VER, 2, PYL_CID1, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &analog, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* one byte short, one byte long */
	d[50] = PYL_USER_SHORT;
	k = bms_pylon_request(PYL_VER, 2, PYL_CID1, 0, d, (size_t)in - 1, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &analog, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	k = bms_pylon_request(PYL_VER, 2, PYL_CID1, 0, d, (size_t)in + 1, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &analog, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* 0x92 with the limits the wrong way round */
	struct bms_request manage = {.kind = BMS_REQ_POLL, .step = 2, .cycle = 1};
	n = dc_vector_frame(FAMILY, "response", 9, f, sizeof(f));
	CU_ASSERT_FATAL(bms_pylon_decode(NULL, f, n, &pf) == 0);
	in = bms_pylon_info(&pf, d, sizeof(d));
	CU_ASSERT_FATAL(in == PYL_MANAGE_INFO);
	put_u16be(d + 7, 555);
	k = bms_pylon_request(PYL_VER, 2, PYL_CID1, 0, d, (size_t)in, f, sizeof(f));
	CU_ASSERT(dc_parse_at(DRV, 2, &manage, f, (size_t)k, &s) == -EPROTO && s.valid == 0);
	/* a header announcing more than any Pylontech reply: garbage, not a wait */
	ac_check_long_header(DRV, "~20024600");
}

/*
 * Not Seplos v2 (the same VER 0x20 and CID1 0x46), PACE, Daren or KS48100:
 * their captures and their simulators' answers are never taken, at any of
 * our addresses; and theirs never take ours.
 */
static void test_siblings(void)
{
	static const uint8_t ours[] = {1, 2, 3, 0};
	CU_ASSERT(ac_refuses_vectors(DRV, ours, "seplos_v2") > 0);
	CU_ASSERT(ac_refuses_vectors(DRV, ours, "pace") > 0);
	CU_ASSERT(ac_refuses_vectors(DRV, ours, "daren") > 0);
	CU_ASSERT(ac_refuses_vectors(DRV, ours, "ks48100") > 0);
	ac_refuses_sim(DRV, ours, "seplos_v2");
	ac_refuses_sim(DRV, ours, "pace");
	ac_refuses_sim(DRV, ours, "daren");
	ac_refuses_sim(DRV, ours, "ks48100");
	static const char *const others[] = {"seplos_v2", "pace", "daren", "ks48100"};
	static const uint8_t theirs[] = {1, 2, 3, 4, 0};
	for (unsigned i = 0; i < 4; i++) {
		const struct bms_driver *o = bms_driver_find(others[i]);
		CU_ASSERT_FATAL(o != NULL);
		CU_ASSERT(ac_refuses_vectors(o, theirs, FAMILY) == RESPONSES);
		ac_refuses_sim(o, theirs, FAMILY);
	}
}

/* READ of every command we decode; describe of requests and refusals. */
static void test_read_and_describe(void)
{
	struct bms_snapshot dev = sample_state();
	uint8_t rep[64];
	static const uint16_t cmds[] = {PYL_ANALOG, PYL_ALARM, PYL_MANAGE, PYL_SERIAL, PYL_MAKER};
	static const uint32_t fills[] = {BMS_V_CELLS, BMS_V_ALARMS, BMS_V_MAX_CHARGE_I,
					 BMS_V_SERIAL, BMS_V_MODEL};
	ac_check_read(DRV, 2, &dev, cmds, fills, 5, 0x47);
	int k = bms_pylon_request(PYL_VER, 2, PYL_CID1, 0x90, NULL, 0, rep, sizeof(rep));
	ac_check_describe_refusal(DRV, rep, (size_t)k, 2, 0x90);
}

/* ---- property test: random states through the simulator and the decode engine ---- */

static bool level_ok(unsigned a, uint8_t level)
{
	if (level != 2) /* the codes have no levels */
		return false;
	if (a == BMS_ALARM_INTERNAL_FAILURE)
		return true;
	for (size_t i = 0; i < PYL_NCODES; i++)
		if (pyl_codes[i].alarm == a)
			return true;
	return false;
}

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dc_random_cells(s, 32, 2500, 1101);
	s->voltage_mv = (int32_t)dc_rnd(65536); /* mV in 16 bits: 32 cells' sum would not fit */
	s->current_ma = ((int32_t)dc_rnd(20001) - 10000) * PYL_CUR_UNIT;
	/* either 16-bit capacities or the 24-bit ones of a pack above 65 Ah */
	uint32_t top = dc_rnd(2) ? 65535 : 400000;
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(top));
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah + 1);
	s->soc_cpct = (uint16_t)((uint64_t)s->capacity_remain_mah * 10000 /
				 (uint64_t)s->capacity_full_mah);
	s->cycles = dc_rnd(65536);
	s->temp_count = (uint8_t)(1 + dc_rnd(BMS_MAX_TEMPS)); /* the board sensor and 1..8 */
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(801) - 200);
	s->mosfet_temp_dc = (int16_t)((int)dc_rnd(1001) - 200);
	s->max_charge_ma = (int32_t)dc_rnd(3001) * PYL_CUR_UNIT;
	s->max_discharge_ma = (int32_t)dc_rnd(3001) * PYL_CUR_UNIT;
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	dc_random_alarms(s, level_ok);
	/* what one frame cannot say: a second and third cell or sensor for low/high/fault,
	 * and the module voltage both low and high */
	if (s->cell_count < 2)
		s->alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 0;
	if (s->cell_count < 3)
		s->alarm[BMS_ALARM_INTERNAL_FAILURE] = 0;
	if (s->temp_count < 2)
		s->alarm[BMS_ALARM_HIGH_TEMPERATURE] = 0;
	if (s->alarm[BMS_ALARM_HIGH_VOLTAGE])
		s->alarm[BMS_ALARM_LOW_VOLTAGE] = 0;
	snprintf(s->serial, sizeof(s->serial), "HPTCR%011u", dc_rnd(1000000000));
	snprintf(s->model, sizeof(s->model), "US%u", 2000 + dc_rnd(4) * 1000);
	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u", dc_rnd(256), dc_rnd(256));
	s->valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		   BMS_V_SOC | BMS_V_CYCLES | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_MAX_CHARGE_I |
		   BMS_V_MAX_DISCHARGE_I | BMS_V_FETS | BMS_V_ALARMS | BMS_V_SERIAL | BMS_V_MODEL |
		   BMS_V_SW_VERSION;
}

static void test_property(void)
{
	/* "PYLN": the same states every run */
	CU_ASSERT(dc_check_property(DRV, 0x50594C4Eull, 600, PYL_ADDR_MIN, PYL_ADDR_MAX,
				    random_state) == 600);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"captures", test_captures},
		{"sim_roundtrip", test_sim_roundtrip},
		{"alarm_mask", test_alarm_mask},
		{"bus", test_bus},
		{"layouts", test_layouts},
		{"siblings", test_siblings},
		{"read_and_describe", test_read_and_describe},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("pylontech", tests);
}
