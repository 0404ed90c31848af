/* SPDX-License-Identifier: MIT */
/* ANT 2021 protocol driver: vectors, frame checks, requests, simulator, refusals, property. */
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

#define DRV (&bms_ant_2021)

/* The BMS's own statements the snapshot has no field for (or holds otherwise) come from describe().
 */
static const char *const desc_keys[] = {
	"capacity_remaining_ah", /* the snapshot holds whole mAh, truncated */
	"battery_status",
	"temp_sensor_count",
	"temperatures_c",
	"balancer_temp_c",
	"charge_fet_status",
	"discharge_fet_status",
	"balancer_status",
	"capacity_total_ah",
	"cycle_capacity_ah",
	"runtime_s",
	"max_cell_v",
	"max_cell_no",
	"min_cell_v",
	"min_cell_no",
	"avg_cell_v",
	"total_discharge_ah",
	"total_charge_ah",
	NULL,
};

static enum dc_map new_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
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
	CU_ASSERT(dc_count(DRV, "response") >= 3);
	CU_ASSERT(dc_check_vectors(DRV, 0, new_map) == dc_count(DRV, "response"));
	CU_ASSERT(dc_check_family_frames(DRV) == dc_count(DRV, "response"));
}

static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(DRV, 0) == 1);
}

static int parse_poll(const uint8_t *f, size_t n, struct bms_snapshot *s)
{
	uint8_t st[8];
	CU_ASSERT_FATAL(DRV->state_size <= sizeof(st) && DRV->init(st, 0) == 0);
	struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = 1};
	memset(s, 0, sizeof(*s));
	return DRV->parse(st, &rq, f, n, s);
}

static void fix_crc(uint8_t *f, size_t n)
{
	put_u16le(f + n - 4, bms_crc16_modbus(f + 1, n - 5));
}

/* Where the fields after the cells and sensors start. */
static size_t tail(const uint8_t *f)
{
	return ANT_NEW_FIXED + 2u * f[9] + 2u * f[8];
}

static void test_snapshot_choices(void)
{
	uint8_t f[512];
	struct bms_snapshot s;
	/* 16S: both sensors, MOSFET, SOH, charging sign */
	size_t n = dc_vector_frame("ant_2021", "response", 0, f, sizeof(f));
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 10 && s.temp_dc[1] == 20);
	CU_ASSERT(s.mosfet_temp_dc == 20 && s.soh_cpct == 10000);
	CU_ASSERT(s.current_ma == 300 && s.power_mw == 15000);
	CU_ASSERT(s.charge_fet && s.discharge_fet);
	/* 14S UART: sensor 3 reads -40 (open input): left out; discharge code 2 */
	n = dc_vector_frame("ant_2021", "response", 1, f, sizeof(f));
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(s.temp_count == 3);
	CU_ASSERT(s.temp_dc[0] == 280 && s.temp_dc[1] == 280 && s.temp_dc[2] == 280);
	CU_ASSERT(s.charge_fet && !s.discharge_fet);
	CU_ASSERT(s.alarm[BMS_ALARM_LOW_CELL_VOLTAGE] == 2);
	/* the 2021-only codes: low temperature (charge), cell difference (discharge) */
	size_t k = tail(f);
	f[k + 12] = 0x11;
	f[k + 13] = 0x12;
	fix_crc(f, n);
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(s.alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE] == 2);
	CU_ASSERT(s.alarm[BMS_ALARM_CELL_IMBALANCE] == 2);
	CU_ASSERT(s.alarm[BMS_ALARM_LOW_CELL_VOLTAGE] == 0);
	/* every sensor open: no temperature list at all */
	for (unsigned i = 0; i < f[8]; i++)
		put_u16le(f + ANT_NEW_FIXED + 2u * f[9] + 2 * i, (uint16_t)-40);
	fix_crc(f, n);
	CU_ASSERT_FATAL(parse_poll(f, n, &s) == 0);
	CU_ASSERT(!(s.valid & BMS_V_TEMPS));
}

static void test_rejects(void)
{
	uint8_t f[512], g[512];
	struct bms_snapshot s;
	size_t n = dc_vector_frame("ant_2021", "response", 0, f, sizeof(f));
	size_t k = tail(f);
	static const struct {
		int off; /* < 0: from the tail */
		uint8_t v;
	} bad[] = {
		{9, 0},         {9, 33}, {8, 9}, {7, 6}, {-(8 + 1), 0}, /* SOC 101 */
		{-(10 + 1), 0},                                         /* SOH 101 */
		{3, 1},                                                 /* register 1 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(g, f, n);
		if (bad[i].off >= 0) {
			g[bad[i].off] = bad[i].v;
		} else {
			size_t o = k + (size_t)(-bad[i].off - 1);
			put_u16le(g + o, 101);
		}
		fix_crc(g, n);
		int r = parse_poll(g, n, &s);
		if (r != -EPROTO)
			fprintf(stderr, "ant_2021 reject case %zu: %d\n", i, r);
		CU_ASSERT(r == -EPROTO);
		CU_ASSERT(s.valid == 0);
	}
	/* a cell count the length cannot hold */
	memcpy(g, f, n);
	g[9] = 32;
	fix_crc(g, n);
	CU_ASSERT(parse_poll(g, n, &s) == -EPROTO);
	/* a bad CRC or trailer: no frame */
	memcpy(g, f, n);
	g[n - 4] ^= 1;
	CU_ASSERT(parse_poll(g, n, &s) == -EBADMSG);
	memcpy(g, f, n);
	g[n - 1] = 0x56;
	CU_ASSERT(parse_poll(g, n, &s) == -EBADMSG);
	/* our echo, another command's request and another command's reply are foreign */
	uint8_t req[16];
	struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = 1};
	int m = DRV->build_request(NULL, &rq, req, sizeof(req));
	CU_ASSERT_FATAL(m == 10);
	CU_ASSERT(parse_poll(req, (size_t)m, &s) == BMS_FOREIGN);
	static const uint8_t ack[] = {0x7E, 0xA1, 0x61, 0x07, 0x00, 0x02,
				      0x01, 0x00, 0xB6, 0x2B, 0xAA, 0x55};
	CU_ASSERT(parse_poll(ack, sizeof(ack), &s) == BMS_FOREIGN);
	static const uint8_t settings_req[] = {0x7E, 0xA1, 0x02, 0x00, 0x00,
					       0x38, 0x99, 0xB3, 0xAA, 0x55};
	CU_ASSERT(parse_poll(settings_req, sizeof(settings_req), &s) == BMS_FOREIGN);
	/* no write; READ only of the status command */
	uint8_t out[16];
	struct bms_request set = {.kind = BMS_REQ_SET, .command = BMS_CMD_DISCHARGE_FET};
	CU_ASSERT(DRV->build_request(NULL, &set, out, sizeof(out)) == -EOPNOTSUPP);
	struct bms_request rd = {.kind = BMS_REQ_READ, .reg = ANT_NEW_REQ_STATUS};
	CU_ASSERT(DRV->build_request(NULL, &rd, out, sizeof(out)) == 10);
	rd.reg = 2;
	CU_ASSERT(DRV->build_request(NULL, &rd, out, sizeof(out)) == -EOPNOTSUPP);
	CU_ASSERT(!bms_driver_can_set(DRV));
}

static void test_refuses_others(void)
{
	CU_ASSERT(ant_check_refuses_others(DRV) > 20);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53120;
	s.current_ma = -12300;
	s.power_mw = -653000;
	s.soc_cpct = 8700;
	s.soh_cpct = 9800;
	s.capacity_remain_mah = 87123;
	s.capacity_full_mah = 100000;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3310 + i);
	s.balancing = (1u << 3) | (1u << 15);
	s.temp_count = 4;
	s.temp_dc[0] = 230;
	s.temp_dc[1] = -50;
	s.temp_dc[2] = 0;
	s.temp_dc[3] = 410;
	s.mosfet_temp_dc = 310;
	s.charge_fet = true;
	s.discharge_fet = true;
	s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_SOH |
		  BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_CELLS | BMS_V_TEMPS |
		  BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING | BMS_V_ALARMS;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
	dc_check_alarm_mask(DRV, 0, &s);
	s.current_ma = 45600;
	s.discharge_fet = false;
	s.alarm[BMS_ALARM_LOW_TEMPERATURE] = 2;
	s.cell_count = 32;
	for (unsigned i = 0; i < 32; i++)
		s.cell_mv[i] = (uint16_t)(3200 + 3 * i);
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
}

static void test_describe(void)
{
	size_t n;
	const struct vec *v = dc_vectors(&n);
	unsigned req = 0, rep = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].protocol, "ant_2021"))
			continue;
		uint8_t f[512];
		int len = vec_hex(v[i].hex, f, sizeof(f));
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT_FATAL(bms_ant_2021_describe(f, (size_t)len, &d) == 0);
		CU_ASSERT(d.command == ANT_NEW_REQ_STATUS);
		if (!strcmp(v[i].direction, "request")) {
			CU_ASSERT(d.dir == BMS_DIR_REQUEST);
			req++;
		} else {
			CU_ASSERT(d.dir == BMS_DIR_REPLY);
			CU_ASSERT(d.n >= 30);
			rep++;
			CU_ASSERT(bms_ant_2021_describe(f, (size_t)len - 1, &d) == -1);
		}
	}
	CU_ASSERT(req == 1 && rep == dc_count(DRV, "response"));
	/* a write acknowledgement is a frame, described but not decoded */
	static const uint8_t ack[] = {0x7E, 0xA1, 0x61, 0x07, 0x00, 0x02,
				      0x01, 0x00, 0xB6, 0x2B, 0xAA, 0x55};
	struct bms_frame_desc d;
	CU_ASSERT(bms_ant_2021_describe(ack, sizeof(ack), &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == 0x51);
}

static bool in_tables(unsigned a, const struct ant_code *t, size_t n, const struct ant_code *t2,
		      size_t n2)
{
	return ant_alarm_code(t, n, a) || ant_alarm_code(t2, n2, a);
}

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dc_random_cells(s, 32, 2500, 1701);
	s->current_ma = ((int32_t)dc_rnd(60001) - 30000) * 100;
	s->power_mw = (int64_t)((int32_t)dc_rnd(200001) - 100000) * 1000;
	s->soc_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->soh_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(1000000));
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah + 1);
	s->temp_count = (uint8_t)(1 + dc_rnd(ANT_NEW_MAX_TEMPS));
	for (unsigned i = 0; i < s->temp_count; i++) {
		int t = (int)dc_rnd(121) - 30;
		s->temp_dc[i] = (int16_t)((t == -40 ? -39 : t) * 10);
	}
	s->mosfet_temp_dc = (int16_t)(((int)dc_rnd(111) - 20) * 10);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	uint32_t mask = s->cell_count >= 32 ? 0xFFFFFFFFu : (1u << s->cell_count) - 1;
	s->balancing = (uint32_t)(dc_rnd(1u << 16) | dc_rnd(1u << 16) << 16) & mask;
	if (dc_rnd(3) == 0) {
		unsigned a;
		do
			a = dc_rnd(BMS_ALARM_COUNT);
		while (!(DRV->alarms >> a & 1u));
		s->alarm[a] = 2;
		if (in_tables(a, ant_chg_codes, ANT_NCODES(ant_chg_codes), ant_new_chg_codes,
			      ANT_NCODES(ant_new_chg_codes)))
			s->charge_fet = false;
		if (in_tables(a, ant_dsg_codes, ANT_NCODES(ant_dsg_codes), ant_new_dsg_codes,
			      ANT_NCODES(ant_new_dsg_codes)))
			s->discharge_fet = false;
	}
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_SOH |
		   BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_CELLS | BMS_V_TEMPS |
		   BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING | BMS_V_ALARMS;
}

static void test_property(void)
{
	/* "ANT2021": the same states every run */
	CU_ASSERT(dc_check_property(DRV, 0x414E5432303231ull, 500, 0, 1, random_state) == 500);
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
	return sb_add_suite("ant_2021", tests);
}
