/* SPDX-License-Identifier: MIT */
/*
 * HLPdata BMS4S driver: the vectors (built from the documented layout),
 * requests, echoes and other lines skipped, malformed and implausible lines
 * refused, other families' frames refused, simulator, alarms, describe,
 * property.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/hlpdata_wire.h"
#include "bms/registry.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

#define DRV (&bms_hlpdata)

static bool desc_num(const uint8_t *f, size_t len, const char *key, double *ret)
{
	struct bms_frame_desc d;
	const struct bms_desc_item *it;
	if (bms_hlpdata_describe(f, len, &d) != 0 || !(it = dc_desc_find(&d, key)))
		return false;
	*ret = it->num;
	return true;
}

static enum dc_map hlp_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			   size_t len, struct dc_value *ret)
{
	(void)s;
	static const char *const desc_keys[] = {"volt_high_cell_v", "beep_code", NULL};
	if (dc_key_in(key, desc_keys)) {
		ret->kind = VEC_NUM;
		CU_ASSERT(desc_num(frame, len, key, &ret->num));
		return DC_MAPPED;
	}
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(DRV, "response") == 5);
	CU_ASSERT(dc_check_vectors(DRV, 0, hlp_map) == dc_count(DRV, "response"));
	CU_ASSERT(dc_check_family_frames(DRV) == dc_count(DRV, "response"));
}

static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(DRV, 0) == 3);
	uint8_t q[8];
	struct bms_request rq = {.kind = BMS_REQ_PROBE};
	/* the wake-up LF in front of the first command */
	CU_ASSERT(DRV->build_request(NULL, &rq, q, sizeof(q)) == 4 && !memcmp(q, "\npv\n", 4));
	rq.step = 1;
	CU_ASSERT(DRV->build_request(NULL, &rq, q, sizeof(q)) == 3 && !memcmp(q, "m1\n", 3));
	rq.step = 2;
	CU_ASSERT(DRV->build_request(NULL, &rq, q, sizeof(q)) == 0);
	rq = (struct bms_request){.kind = BMS_REQ_READ, .reg = 0x1234};
	CU_ASSERT(DRV->build_request(NULL, &rq, q, sizeof(q)) == -EOPNOTSUPP);
	rq = (struct bms_request){.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET, .value = 0};
	CU_ASSERT(DRV->build_request(NULL, &rq, q, sizeof(q)) == -EOPNOTSUPP);
	CU_ASSERT(DRV->flags & BMS_F_OPT_IN);
}

static int parse_m1(const char *line, struct bms_snapshot *s)
{
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	memset(s, 0, sizeof(*s));
	return DRV->parse(NULL, &rq, (const uint8_t *)line, strlen(line), s);
}

static int check(const char *line)
{
	size_t n;
	return DRV->frame_check((const uint8_t *)line, strlen(line), &n);
}

/* The echo of a command, the wake-up, a line of another command: skipped, not errors. */
static void test_foreign_lines(void)
{
	struct bms_snapshot s;
	CU_ASSERT(parse_m1("m1\r\n", &s) == BMS_FOREIGN);
	CU_ASSERT(parse_m1("\n", &s) == BMS_FOREIGN);
	CU_ASSERT(parse_m1("\r\n", &s) == BMS_FOREIGN);
	CU_ASSERT(parse_m1("BMS4S 4.1.89\r\n", &s) == BMS_FOREIGN);
	CU_ASSERT(parse_m1("BatterySize= 280\r\n", &s) == BMS_FOREIGN);
	CU_ASSERT(s.valid == 0);
	/* the echo and the data in one read: the data is found behind it */
	static const char both[] = "m1\r\n3.312,3.313,3.311,3.314,1.000,50,1,1,13.250,50,0,0,1\r\n";
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
	memset(&s, 0, sizeof(s));
	CU_ASSERT(dc_feed(DRV, NULL, &rq, (const uint8_t *)both, strlen(both), &s) == BMS_FOREIGN);
	size_t start, len;
	CU_ASSERT(bms_frame_find(DRV, (const uint8_t *)both + 4, strlen(both) - 4, &start, &len) ==
		  BMS_FIND_VALID);
	/* the measurements on the echo's line, as dbus-serialbattery also reads them */
	CU_ASSERT(parse_m1("m1 3.312,3.313,3.311,3.314,1.000,50,1,1,13.250,50,0,0,1\r\n", &s) == 0);
	CU_ASSERT(s.cell_mv[0] == 3312 && s.current_ma == 1000 && s.voltage_mv == 13250);
	/* a settings line during the settings step: more to come; the size ends it */
	rq.step = 2;
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(NULL, &rq, (const uint8_t *)"VoltLow= 3,000\r\n", 16, &s) == 1);
	CU_ASSERT(DRV->parse(NULL, &rq, (const uint8_t *)"BatterySize= 280 Ah\r\n", 21, &s) == 0 &&
		  s.capacity_full_mah == 280000);
}

/* No checksum: the layout is the check. */
static void test_malformed_and_implausible(void)
{
	static const char ok[] = "3.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,0,1,b1 20\r\n";
	CU_ASSERT(check(ok) == 1);
	struct bms_snapshot s;
	CU_ASSERT(parse_m1(ok, &s) == 0 && s.current_ma == -2500 && !s.discharge_fet &&
		  s.temp_count == 1 && s.temp_dc[0] == 200);
	/* not our layout: not a frame at all (noise, counted by the core) */
	static const char *const bad[] = {
		"3.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,0\r\n", /* 12 fields */
		"3.312,3.313,3.311,3.314,-2.5x0,50,1,0,13.250,50,0,0,1\r\n",
		"3.312,3.313,3.3113.314,-2.500,50,1,0,13.250,50,0,0,1\r\n",  /* two numbers run
										together */
		"3.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,a,1\r\n", /* beep not a number */
		"3.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,0,1,b1 2x\r\n",
		"3.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,0,1\r\r\n",
		"3.312,3.313,3.311,3.314,-2.500,5\x01,1,0,13.250,50,0,0,1\r\n",
		"BMS4S 4.1BMS4S 4.1.89\r\n", /* a cut-off line run into the next */
		"BatterySize= 2BatterySize= 280\r\n",
		"pv x\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT(check(bad[i]) == -1);
		CU_ASSERT(parse_m1(bad[i], &s) == -EBADMSG);
	}
	/* our layout, values no BMS4S sends: refused (-EPROTO), nothing written */
	static const char *const implausible[] = {
		"3.312,3.313,3.311,3.314,-2.500,101,1,0,13.250,50,0,0,1\r\n", /* SOC */
		"5.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,0,1\r\n",  /* a cell */
		"0.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,0,1\r\n",
		"3.312,3.313,3.311,3.314,-2.500,50,2,0,13.250,50,0,0,1\r\n",  /* a flag */
		"3.312,3.313,3.311,3.314,-2500.5,50,1,0,13.250,50,0,0,1\r\n", /* 2.5 kA */
		"3.312,3.313,3.311,3.314,-2.500,50,1,0,13.250,50,0,0,1,b1 200\r\n",
	};
	for (size_t i = 0; i < sizeof(implausible) / sizeof(implausible[0]); i++) {
		CU_ASSERT(check(implausible[i]) == 1);
		CU_ASSERT(parse_m1(implausible[i], &s) == -EPROTO && s.valid == 0);
	}
	/* a line still arriving: more; a line longer than any: none */
	CU_ASSERT(check("3.312,3.313,3.3") == 0);
	CU_ASSERT(check("BatterySi") == 0);
	char longl[HLP_MAX_LINE + 8];
	memset(longl, '1', sizeof(longl));
	memcpy(longl, "3.312,", 6);
	longl[sizeof(longl) - 1] = '\0';
	CU_ASSERT(check(longl) == -1);
	/* a version line of exactly max_frame bytes with CR LF is one; a byte more is none */
	char v[HLP_MAX_LINE + 2];
	memset(v, 'x', sizeof(v));
	memcpy(v, "BMS4S ", 6);
	memcpy(v + HLP_MAX_LINE - 2, "\r\n", 3);
	CU_ASSERT(check(v) == 1);
	memcpy(v + HLP_MAX_LINE - 2, "x\r\n", 4);
	CU_ASSERT(check(v) == -1);
	/* the '~' ASCII families end their frames in CR alone: never a line here */
	CU_ASSERT(check("~20014A00E00200FD3C\r") != 1);
}

/* No other family's captured reply, in any poll step, gives a cycle's data. */
static void test_refuses_others(void)
{
	size_t nv;
	const struct vec *v = dc_vectors(&nv);
	unsigned tried = 0;
	for (size_t i = 0; i < nv; i++) {
		if (!strcmp(v[i].protocol, "hlpdata"))
			continue;
		uint8_t f[2048];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		if (n <= 0)
			continue;
		for (unsigned step = 0; step < 3; step++) {
			struct bms_request rq = {.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
			struct bms_snapshot s;
			memset(&s, 0, sizeof(s));
			int r = dc_feed(DRV, NULL, &rq, f, (size_t)n, &s);
			CU_ASSERT(r != 0 && s.valid == 0);
		}
		tried++;
	}
	CU_ASSERT(tried > 50);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.cell_count = 4;
	int32_t sum = 0;
	for (unsigned i = 0; i < 4; i++) {
		s.cell_mv[i] = (uint16_t)(3301 + 3 * i);
		sum += s.cell_mv[i];
	}
	s.voltage_mv = sum;
	s.current_ma = -12345;
	s.soc_cpct = 6300;
	s.capacity_full_mah = 280000;
	s.temp_count = 2;
	s.temp_dc[0] = 210;
	s.temp_dc[1] = -50;
	s.charge_fet = true;
	s.discharge_fet = true;
	snprintf(s.hw_version, sizeof(s.hw_version), "BMS4S 4.1.89");
	s.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_FULL |
		  BMS_V_TEMPS | BMS_V_FETS | BMS_V_ALARMS | BMS_V_HW_VERSION;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
	dc_check_alarm_mask(DRV, 0, &s);
	s.charge_fet = false;
	s.current_ma = 0;
	s.alarm[BMS_ALARM_HIGH_VOLTAGE] = 2;
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
	/* the simulator stays silent to what is no command of it */
	uint8_t out[512];
	CU_ASSERT(bms_sim_respond(DRV, &s, 0, (const uint8_t *)"\n", 1, out, sizeof(out)) == 0);
	CU_ASSERT(bms_sim_respond(DRV, &s, 0, (const uint8_t *)"\x0a\x17\x02", 3, out,
				  sizeof(out)) == 0);
}

static void test_describe(void)
{
	struct bms_frame_desc d;
	CU_ASSERT(bms_hlpdata_describe((const uint8_t *)"\n", 1, &d) == 0 &&
		  d.dir == BMS_DIR_REQUEST && d.address == -1);
	CU_ASSERT(bms_hlpdata_describe((const uint8_t *)"m1\n", 3, &d) == 0 &&
		  d.dir == BMS_DIR_REQUEST && d.command == HLP_CMD_MEASURE);
	CU_ASSERT(bms_hlpdata_describe((const uint8_t *)"ps\r\n", 4, &d) == 0 &&
		  d.dir == BMS_DIR_REQUEST && d.command == HLP_CMD_SETTINGS);
	static const char m1[] = "3.312,3.313,3.311,3.314,-2.500,50,1,0,13.248,49,0.125,4,1,"
				 "b1 20,a1 31\r\n";
	const uint8_t *f = (const uint8_t *)m1;
	size_t n = strlen(m1);
	CU_ASSERT(bms_hlpdata_describe(f, n, &d) == 0 && d.dir == BMS_DIR_REPLY &&
		  d.command == HLP_CMD_MEASURE);
	double v = 0;
	CU_ASSERT(desc_num(f, n, "vbat2_v", &v) && v > 13.2479 && v < 13.2481);
	CU_ASSERT(desc_num(f, n, "soc_now_pct", &v) && v == 49);
	CU_ASSERT(desc_num(f, n, "adj", &v) && v > 0.1249 && v < 0.1251);
	CU_ASSERT(desc_num(f, n, "beep_code", &v) && v == 4);
	CU_ASSERT(desc_num(f, n, "other_tokens", &v) && v == 1);
	/* beep 4 is low voltage; the other sensor token is not a battery sensor */
	struct bms_snapshot s;
	CU_ASSERT(parse_m1(m1, &s) == 0 && s.alarm[BMS_ALARM_LOW_VOLTAGE] == 2 &&
		  s.temp_count == 1);
	CU_ASSERT(desc_num((const uint8_t *)"VoltLow= 2,950\r\n", 16, "volt_low_cell_v", &v) &&
		  v > 2.9499 && v < 2.9501);
	CU_ASSERT(bms_hlpdata_describe((const uint8_t *)"hello\r\n", 7, &d) == -1);
}

/* ---- property test: random 4-cell packs through the simulator and decode ---- */

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->cell_count = 4;
	int32_t sum = 0;
	for (unsigned i = 0; i < 4; i++) {
		s->cell_mv[i] = (uint16_t)(2500 + dc_rnd(1300));
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum;
	s->current_ma = (int32_t)dc_rnd(600001) - 300000;
	s->soc_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(2000)) * 1000;
	s->temp_count = (uint8_t)dc_rnd(4);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)(((int)dc_rnd(100) - 30) * 10);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	/* one beep code at a time */
	static const enum bms_alarm beeps[] = {BMS_ALARM_HIGH_VOLTAGE, BMS_ALARM_LOW_VOLTAGE,
					       BMS_ALARM_HIGH_CHARGE_TEMPERATURE,
					       BMS_ALARM_LOW_CHARGE_TEMPERATURE};
	unsigned b = dc_rnd(8);
	if (b < 4)
		s->alarm[beeps[b]] = b < 2 ? 2 : 1;
	snprintf(s->hw_version, sizeof(s->hw_version), "BMS4S 4.%u.89", dc_rnd(10));
	s->valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_FULL |
		   BMS_V_FETS | BMS_V_ALARMS | BMS_V_HW_VERSION | (s->temp_count ? BMS_V_TEMPS : 0);
}

static void test_property(void)
{
	/* "BMS4S": the same packs every run */
	CU_ASSERT(dc_check_property(DRV, 0x424D533453ull, 300, 0, 1, random_state) == 300);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"foreign_lines", test_foreign_lines},
		{"malformed_and_implausible", test_malformed_and_implausible},
		{"refuses_others", test_refuses_others},
		{"sim_roundtrip", test_sim_roundtrip},
		{"describe", test_describe},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("hlpdata", tests);
}
