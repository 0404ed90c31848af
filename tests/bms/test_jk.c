/* SPDX-License-Identifier: MIT */
/* JK 0x4E57 driver: captured vectors, frame check conformance, simulator round trip, writes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/registry.h"
#include "bms/bytes.h"
#include "bms/fields.h"
#include "bms/jk_wire.h"
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
	dc_check_alarm_mask(&bms_jk, 0, &s);
	dc_check_sim_roundtrip(&bms_jk, 0, &s,
			       BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CYCLES |
				       BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_FETS |
				       BMS_V_BALANCER | BMS_V_ALARMS | BMS_V_MAX_CHARGE_I |
				       BMS_V_MAX_DISCHARGE_I | BMS_V_CAP_FULL | BMS_V_SW_VERSION |
				       BMS_V_SERIAL);
	s.current_ma = 20800; /* charging sets bit 15 */
	dc_check_sim_roundtrip(&bms_jk, 0, &s, BMS_V_CURRENT);
}

/*
 * Feed bytes as the worker does (worker/link.c step_once): frames found by
 * bms_frame_find, BMS_FOREIGN skipped and counted, until parse returns 0.
 */
static int feed(const struct bms_request *req, const uint8_t *buf, size_t len,
		struct bms_snapshot *snap, unsigned *ret_foreign)
{
	size_t pos = 0;
	unsigned foreign = 0;
	int last = -ENODATA;
	while (pos < len) {
		size_t start, flen;
		if (bms_frame_find(&bms_jk, buf + pos, len - pos, &start, &flen) != BMS_FIND_VALID)
			break;
		struct bms_snapshot before = *snap;
		int r = bms_jk.parse(NULL, req, buf + pos + start, flen, snap);
		pos += start + flen;
		if (r == BMS_FOREIGN) {
			foreign++;
			CU_ASSERT(memcmp(&before, snap, sizeof(before)) == 0);
			continue;
		}
		last = r;
		if (r <= 0)
			break;
	}
	if (ret_foreign)
		*ret_foreign = foreign;
	return last;
}

/* A reply built by the simulator for the request req. */
static int sim_reply(struct bms_snapshot *s, const struct bms_request *req, uint8_t *out,
		     size_t cap)
{
	uint8_t rq[64];
	int n = bms_jk.build_request(NULL, req, rq, sizeof(rq));
	CU_ASSERT_FATAL(n > 0);
	return bms_sim_respond(&bms_jk, s, 0, rq, (size_t)n, out, cap);
}

/* An adapter that echoes our request: the echo is a request frame, skipped as foreign. */
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
	CU_ASSERT(start == 0 && flen == (size_t)n);
	memset(&got, 0, sizeof(got));
	unsigned foreign = 0;
	CU_ASSERT(feed(&poll0, buf, (size_t)(n + m), &got, &foreign) == 0);
	CU_ASSERT(foreign == 1);
	CU_ASSERT(got.voltage_mv == 53120);
}

/* Every request frame (ours echoed, another master's from GPS source) and a
 * reply to another command are foreign: skipped, the snapshot untouched. */
static void test_foreign(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	unsigned requests = 0;
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].protocol, "jk") || strcmp(v[i].direction, "request"))
			continue;
		uint8_t f[64];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		size_t start, flen;
		CU_ASSERT(bms_frame_find(&bms_jk, f, (size_t)n, &start, &flen) == BMS_FIND_VALID);
		struct bms_snapshot snap, before;
		memset(&snap, 0x5a, sizeof(snap));
		before = snap;
		CU_ASSERT(bms_jk.parse(NULL, &poll0, f, (size_t)n, &snap) == BMS_FOREIGN);
		CU_ASSERT(memcmp(&snap, &before, sizeof(snap)) == 0);
		requests++;
	}
	CU_ASSERT(requests == 2);

	/* a read-one reply while we asked read all: another master's exchange */
	struct bms_snapshot s = sample_state(), got;
	uint8_t rep[1024];
	int m = sim_reply(&s, &poll0, rep, sizeof(rep));
	CU_ASSERT_FATAL(m > 0);
	rep[8] = JK_CMD_READ_ONE;
	put_u16be(rep + m - 2, bms_sum16(rep, (size_t)m - 4));
	memset(&got, 0, sizeof(got));
	CU_ASSERT(bms_jk.parse(NULL, &poll0, rep, (size_t)m, &got) == BMS_FOREIGN);
	CU_ASSERT(got.valid == 0);
}

/* READ: read all and read one are built and decoded; writes are not reads. */
static void test_read(void)
{
	uint8_t req[64], rep[1024];
	struct bms_request rd = {.kind = BMS_REQ_READ, .reg = JK_CMD_READ_ALL};
	CU_ASSERT(bms_jk.build_request(NULL, &rd, req, sizeof(req)) == 21);
	CU_ASSERT(req[8] == JK_CMD_READ_ALL);
	static const uint16_t not_reads[] = {JK_CMD_ACTIVATE, JK_CMD_WRITE, JK_CMD_PASSWORD, 0x07};
	for (size_t i = 0; i < sizeof(not_reads) / sizeof(not_reads[0]); i++) {
		rd.reg = not_reads[i];
		CU_ASSERT(bms_jk.build_request(NULL, &rd, req, sizeof(req)) == -EOPNOTSUPP);
	}
	struct bms_snapshot s = sample_state(), got;
	rd.reg = JK_CMD_READ_ALL;
	int m = sim_reply(&s, &rd, rep, sizeof(rep));
	CU_ASSERT_FATAL(m > 0);
	memset(&got, 0, sizeof(got));
	CU_ASSERT(bms_jk.parse(NULL, &rd, rep, (size_t)m, &got) == 0);
	CU_ASSERT(got.voltage_mv == 53120);

	/* read one of tag 0x85 (SOC): the frame carries that record only */
	rd.reg = JK_CMD_READ_ONE;
	int n = bms_jk.build_request(NULL, &rd, req, sizeof(req));
	CU_ASSERT_FATAL(n == 21 && req[8] == JK_CMD_READ_ONE);
	req[11] = 0x85;
	put_u16be(req + n - 2, bms_sum16(req, (size_t)n - 4));
	m = bms_sim_respond(&bms_jk, &s, 0, req, (size_t)n, rep, sizeof(rep));
	CU_ASSERT_FATAL(m == 22);
	memset(&got, 0, sizeof(got));
	CU_ASSERT(bms_jk.parse(NULL, &rd, rep, (size_t)m, &got) == 0);
	CU_ASSERT(got.valid == BMS_V_SOC);
	CU_ASSERT(got.soc_cpct == 8700);
	/* the same frame in a poll answers someone else's read */
	CU_ASSERT(bms_jk.parse(NULL, &poll0, rep, (size_t)m, &got) == BMS_FOREIGN);
}

/* 0x99 / 0x97 over-current settings: both limits with their own bits, 0 and
 * above JK_LIMIT_MAX_A never a limit. */
static void test_current_limits(void)
{
	static const struct {
		int32_t chg_ma, dis_ma;
		bool chg_ok, dis_ok;
	} cases[] = {
		{100000, 150000, true, true},    {0, 150000, false, true},
		{40000, 0, true, false},         {0, 0, false, false},
		{1000000, 1001000, true, false}, {1001000, 1000, false, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bms_snapshot s = sample_state(), got;
		s.max_charge_ma = cases[i].chg_ma;
		s.max_discharge_ma = cases[i].dis_ma;
		uint8_t rep[1024];
		int m = sim_reply(&s, &poll0, rep, sizeof(rep));
		CU_ASSERT_FATAL(m > 0);
		memset(&got, 0, sizeof(got));
		CU_ASSERT_FATAL(bms_jk.parse(NULL, &poll0, rep, (size_t)m, &got) == 0);
		CU_ASSERT(!!(got.valid & BMS_V_MAX_CHARGE_I) == cases[i].chg_ok);
		CU_ASSERT(!!(got.valid & BMS_V_MAX_DISCHARGE_I) == cases[i].dis_ok);
		if (cases[i].chg_ok)
			CU_ASSERT(got.max_charge_ma == cases[i].chg_ma);
		if (cases[i].dis_ok)
			CU_ASSERT(got.max_discharge_ma == cases[i].dis_ma);
	}
}

/* A captured reply at byte offset of its first tag t (0 = not there). */
static size_t tag_at(const uint8_t *f, size_t len, uint8_t t)
{
	size_t pos = 11;
	while (pos < len - 9) {
		size_t sz = f[pos] == 0x79 ? 1u + f[pos + 1] : jk_tag_size(f[pos]);
		if (f[pos] == t)
			return pos;
		if (sz == 0)
			break;
		pos += 1 + sz;
	}
	return 0;
}

/* 0x8A total cells and 0x86 sensor count: the stated counts (BMS_V_COUNTS). */
static void test_counts(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	unsigned seen = 0;
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].protocol, "jk") || strcmp(v[i].direction, "response"))
			continue;
		uint8_t f[512];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		size_t a = tag_at(f, (size_t)n, 0x8A), t = tag_at(f, (size_t)n, 0x86);
		CU_ASSERT_FATAL(a && t);
		struct bms_snapshot got;
		memset(&got, 0, sizeof(got));
		CU_ASSERT_FATAL(bms_jk.parse(NULL, &poll0, f, (size_t)n, &got) == 0);
		CU_ASSERT(got.valid & BMS_V_COUNTS);
		CU_ASSERT(got.cells_reported == ((f[a + 1] << 8) | f[a + 2]));
		CU_ASSERT(got.cells_reported == got.cell_count);
		CU_ASSERT(got.temps_reported == f[t + 1]);
		const struct vec_expect *e = vec_get(&v[i], "temp_sensor_count");
		if (e)
			CU_ASSERT(got.temps_reported == e->num);
		/* a count beyond what any snapshot holds is impossible */
		put_u16be(f + a + 1, BMS_MAX_CELLS + 1);
		put_u16be(f + n - 2, bms_sum16(f, (size_t)n - 4));
		CU_ASSERT(bms_jk.parse(NULL, &poll0, f, (size_t)n, &got) == -EPROTO);
		seen++;
	}
	CU_ASSERT(seen == dc_count(&bms_jk, "response"));
}

/* Every bit of the 0x8B alarm word alone: exactly the documented alarm. */
static void test_alarm_bits(void)
{
	static const struct {
		int alarm; /* -1: decode only */
		uint8_t level;
	} want[16] = {
		{BMS_ALARM_LOW_SOC, 1},
		{BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2},
		{BMS_ALARM_HIGH_VOLTAGE, 2},
		{BMS_ALARM_LOW_VOLTAGE, 2},
		{BMS_ALARM_HIGH_TEMPERATURE, 2},
		{BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
		{BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
		{BMS_ALARM_CELL_IMBALANCE, 2},
		{BMS_ALARM_HIGH_TEMPERATURE, 2},
		{BMS_ALARM_LOW_TEMPERATURE, 2},
		{BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
		{BMS_ALARM_LOW_CELL_VOLTAGE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{-1, 0},
		{-1, 0},
	};
	struct bms_snapshot s = sample_state();
	memset(s.alarm, 0, sizeof(s.alarm));
	uint8_t rep[1024];
	int m = sim_reply(&s, &poll0, rep, sizeof(rep));
	CU_ASSERT_FATAL(m > 0);
	size_t at = tag_at(rep, (size_t)m, 0x8B);
	CU_ASSERT_FATAL(at > 0);
	for (unsigned bit = 0; bit < 16; bit++) {
		put_u16be(rep + at + 1, (uint16_t)(1u << bit));
		put_u16be(rep + m - 2, bms_sum16(rep, (size_t)m - 4));
		struct bms_snapshot got;
		memset(&got, 0, sizeof(got));
		CU_ASSERT_FATAL(bms_jk.parse(NULL, &poll0, rep, (size_t)m, &got) == 0);
		CU_ASSERT(got.valid & BMS_V_ALARMS);
		for (int a = 0; a < BMS_ALARM_COUNT; a++) {
			uint8_t lvl = a == want[bit].alarm ? want[bit].level : 0;
			if (got.alarm[a] != lvl)
				fprintf(stderr, "\n    bit %u: alarm %s = %u, want %u\n", bit,
					bms_alarm_name((enum bms_alarm)a), got.alarm[a], lvl);
			CU_ASSERT(got.alarm[a] == lvl);
		}
		/* and the raw word is shown */
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(bms_jk_describe(rep, (size_t)m, &d) == 0);
		bool found = false;
		for (unsigned k = 0; k < d.n; k++)
			if (!strcmp(d.items[k].key, "alarm_bits"))
				found = d.items[k].num == (double)(1u << bit);
		CU_ASSERT(found);
	}
}

/* A key the snapshot (or the harness's derived keys) answers, not describe(). */
static bool snapshot_key(const char *key)
{
	unsigned tn;
	char tail[8];
	static const char *const derived[] = {"min_cell_v", "max_cell_v", "min_cell_no",
					      "max_cell_no", NULL};
	return bms_field_by_key(key) || dc_key_in(key, derived) ||
	       (sscanf(key, "temp%u_%7s", &tn, tail) == 2 && !strcmp(tail, "c"));
}

/* describe() of every vector frame: direction, command, and each expected
 * value that is no snapshot field as an item of the same key and value. */
static void test_describe_vectors(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	unsigned described = 0;
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].protocol, "jk"))
			continue;
		uint8_t f[512];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(bms_jk_describe(f, (size_t)n, &d) == 0);
		bool request = !strcmp(v[i].direction, "request");
		CU_ASSERT(d.dir == (request ? BMS_DIR_REQUEST : BMS_DIR_REPLY));
		CU_ASSERT(d.command == JK_CMD_READ_ALL);
		CU_ASSERT(d.address == -1);
		CU_ASSERT(!strcmp(d.name, "read all"));
		for (unsigned k = 0; k < v[i].nexpect; k++) {
			const struct vec_expect *e = &v[i].expect[k];
			const struct bms_desc_item *it = NULL;
			for (unsigned j = 0; j < d.n; j++)
				if (!strcmp(d.items[j].key, e->key))
					it = &d.items[j];
			if (!it) {
				if (!snapshot_key(e->key))
					fprintf(stderr, "\n    vector %zu: no item %s\n", i,
						e->key);
				CU_ASSERT(snapshot_key(e->key));
				continue;
			}
			bool ok = e->kind == VEC_STR
					  ? it->is_text && !strcmp(it->text, e->str)
					  : !it->is_text && fabs(it->num - e->num) < 0.001;
			if (!ok)
				fprintf(stderr, "\n    vector %zu: item %s differs\n", i, e->key);
			CU_ASSERT(ok);
		}
		described++;
	}
	CU_ASSERT(described == dc_count(&bms_jk, "request") + dc_count(&bms_jk, "response"));
	/* not a frame of the protocol: an unknown command */
	uint8_t req[64];
	int n = bms_jk.build_request(NULL, &poll0, req, sizeof(req));
	req[8] = 0x07;
	put_u16be(req + n - 2, bms_sum16(req, (size_t)n - 4));
	struct bms_frame_desc d;
	CU_ASSERT(bms_jk_describe(req, (size_t)n, &d) == -1);
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

/* ---- property test (issue item 7) ---- */

static void rnd_str(char *out, size_t len)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";
	for (size_t i = 0; i < len; i++)
		out[i] = set[dc_xrnd() % (sizeof(set) - 1)];
	out[len] = '\0';
}

/* A random battery state, quantised to what the 0x4E57 reply carries. */
static struct bms_snapshot random_state(uint32_t *ret_valid)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	uint32_t v = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CYCLES | BMS_V_CELLS |
		     BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCER | BMS_V_ALARMS |
		     BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_SW_VERSION | BMS_V_SERIAL |
		     BMS_V_COUNTS;
	s.cell_count = (uint8_t)dc_xrnd_in(1, BMS_MAX_CELLS);
	for (unsigned i = 0; i < s.cell_count; i++)
		s.cell_mv[i] = (uint16_t)dc_xrnd_in(2500, 4200);
	s.voltage_mv = dc_xrnd_in(s.cell_count * 250, s.cell_count * 420) * 10; /* 10 mV */
	int32_t amps10 = dc_xrnd_in(0, 0x7FFF);                                 /* 10 mA, 15 bits */
	s.current_ma = (dc_xrnd() & 1 ? amps10 : -amps10) * 10;
	s.soc_cpct = (uint16_t)(dc_xrnd_in(0, 100) * 100);
	s.cycles = (uint32_t)dc_xrnd_in(0, 65535);
	s.temp_count = 2; /* 0x81 and 0x82 are always sent */
	for (unsigned t = 0; t < 2; t++)
		s.temp_dc[t] = (int16_t)(dc_xrnd_in(-20, 60) * 10); /* whole degC */
	s.mosfet_temp_dc = (int16_t)(dc_xrnd_in(-20, 60) * 10);
	s.charge_fet = dc_xrnd() & 1;
	s.discharge_fet = dc_xrnd() & 1;
	s.balancer_enabled = dc_xrnd() & 1;
	/* alarms: each Victron alarm at a level some bit of 0x8B carries, or 0 */
	for (size_t k = 0; k < JK_NALARM; k++)
		if (dc_xrnd() % 8 == 0)
			s.alarm[jk_alarm_map[k].alarm] = jk_alarm_map[k].level;
	/* the limits: 1..1000 A, or 0 (not configured: no limit) */
	s.max_charge_ma = dc_xrnd() % 8 ? dc_xrnd_in(1, JK_LIMIT_MAX_A) * 1000 : 0;
	s.max_discharge_ma = dc_xrnd() % 8 ? dc_xrnd_in(1, JK_LIMIT_MAX_A) * 1000 : 0;
	if (s.max_charge_ma)
		v |= BMS_V_MAX_CHARGE_I;
	if (s.max_discharge_ma)
		v |= BMS_V_MAX_DISCHARGE_I;
	s.capacity_full_mah = dc_xrnd_in(1, 2000) * 1000;
	s.capacity_design_mah = s.capacity_full_mah;
	rnd_str(s.sw_version, 15);
	rnd_str(s.serial, 24);
	s.cells_reported = (uint8_t)dc_xrnd_in(1, BMS_MAX_CELLS);
	s.temps_reported = (uint8_t)dc_xrnd_in(0, BMS_MAX_TEMPS);
	s.valid = v;
	*ret_valid = v;
	return s;
}

/*
 * Issue item 7: random states through the simulator's encoder, one poll
 * cycle joined into a capture and decoded by the decode engine, give the
 * same state: 1-32 cells, -20..60 degC, both current directions, FETs on
 * and off, limits set and not.
 */
static void test_property(void)
{
	dc_xrnd_seed(0x4A4B3135u); /* "JK15" */
	struct dc_coverage c;
	dc_check_property_cov(&bms_jk, 600, 0, 0, random_state, &c);
	CU_ASSERT(c.ok == 600);
	/* the ranges were covered */
	CU_ASSERT(c.charging > 100 && c.discharging > 100 && c.fets_off > 100 && c.no_limit > 10);
	CU_ASSERT(c.max_cells > 0);
}

/* ---- writes (issue 17) ---- */

/* The charge-switch frames a user published (diysolarforum, "writing data to
 * jkbms usb ttl rs-485"), which switch the FET without a password step. */
static const uint8_t pub_chg_on[] = {0x4E, 0x57, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
				     0x02, 0x03, 0x02, 0xAB, 0x01, 0x00, 0x00, 0x00,
				     0x00, 0x68, 0x00, 0x00, 0x01, 0xD4};
static const uint8_t pub_chg_off[] = {0x4E, 0x57, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
				      0x02, 0x03, 0x02, 0xAB, 0x00, 0x00, 0x00, 0x00,
				      0x00, 0x68, 0x00, 0x00, 0x01, 0xD3};
#define WRITE_LEN sizeof(pub_chg_on)

static int set_req(enum bms_command cmd, int32_t value, uint8_t *out, size_t cap)
{
	struct bms_request rq = {.kind = BMS_REQ_SET, .command = cmd, .value = value};
	return bms_jk.build_request(NULL, &rq, out, cap);
}

/* The two published frames pass our frame check and checksum as they are. */
static void test_set_public_frames(void)
{
	const uint8_t *pub[] = {pub_chg_on, pub_chg_off};
	for (size_t i = 0; i < 2; i++) {
		size_t flen = 0;
		CU_ASSERT(jk_check_at(pub[i], WRITE_LEN, JK_WANT_ANY, &flen) == 1);
		CU_ASSERT(flen == WRITE_LEN);
		CU_ASSERT(bms_sum16(pub[i], WRITE_LEN - 4) ==
			  ((pub[i][WRITE_LEN - 2] << 8) | pub[i][WRITE_LEN - 1]));
		/* a master's request (transport byte 0x02 notwithstanding): the
		 * simulated device takes it, the driver skips it as foreign */
		CU_ASSERT(jk_check_at(pub[i], WRITE_LEN, JK_WANT_REQUEST, &flen) == 1);
		CU_ASSERT(jk_check_at(pub[i], WRITE_LEN, JK_WANT_REPLY, &flen) == -1);
	}
}

/* Writes: 0xAB / 0xAC FET switches and 0x9D balancer, one frame, no password step. */
static void test_set_requests(void)
{
	CU_ASSERT(bms_driver_supports(&bms_jk, BMS_CMD_CHARGE_FET));
	CU_ASSERT(bms_driver_supports(&bms_jk, BMS_CMD_DISCHARGE_FET));
	CU_ASSERT(bms_driver_supports(&bms_jk, BMS_CMD_BALANCER));
	CU_ASSERT(bms_driver_supports(&bms_jk, BMS_CMD_STANDBY)); /* through both FETs */
	CU_ASSERT(!bms_driver_supports(&bms_jk, BMS_CMD_SOC));
	uint8_t req[64];
	/* the published frames, byte for byte */
	CU_ASSERT(set_req(BMS_CMD_CHARGE_FET, 1, req, sizeof(req)) == (int)WRITE_LEN);
	CU_ASSERT(memcmp(req, pub_chg_on, WRITE_LEN) == 0);
	CU_ASSERT(set_req(BMS_CMD_CHARGE_FET, 0, req, sizeof(req)) == (int)WRITE_LEN);
	CU_ASSERT(memcmp(req, pub_chg_off, WRITE_LEN) == 0);
	/* the same frame for the other switches: tag, value and sum change */
	static const uint8_t dsg_off[] = {0x4E, 0x57, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
					  0x02, 0x03, 0x02, 0xAC, 0x00, 0x00, 0x00, 0x00,
					  0x00, 0x68, 0x00, 0x00, 0x01, 0xD4};
	static const uint8_t dsg_on[] = {0x4E, 0x57, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
					 0x02, 0x03, 0x02, 0xAC, 0x01, 0x00, 0x00, 0x00,
					 0x00, 0x68, 0x00, 0x00, 0x01, 0xD5};
	static const uint8_t bal_off[] = {0x4E, 0x57, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
					  0x02, 0x03, 0x02, 0x9D, 0x00, 0x00, 0x00, 0x00,
					  0x00, 0x68, 0x00, 0x00, 0x01, 0xC5};
	static const uint8_t bal_on[] = {0x4E, 0x57, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00,
					 0x02, 0x03, 0x02, 0x9D, 0x01, 0x00, 0x00, 0x00,
					 0x00, 0x68, 0x00, 0x00, 0x01, 0xC6};
	CU_ASSERT(set_req(BMS_CMD_DISCHARGE_FET, 0, req, sizeof(req)) == (int)WRITE_LEN);
	CU_ASSERT(memcmp(req, dsg_off, WRITE_LEN) == 0);
	CU_ASSERT(set_req(BMS_CMD_DISCHARGE_FET, 1, req, sizeof(req)) == (int)WRITE_LEN);
	CU_ASSERT(memcmp(req, dsg_on, WRITE_LEN) == 0);
	CU_ASSERT(set_req(BMS_CMD_BALANCER, 0, req, sizeof(req)) == (int)WRITE_LEN);
	CU_ASSERT(memcmp(req, bal_off, WRITE_LEN) == 0);
	CU_ASSERT(set_req(BMS_CMD_BALANCER, 1, req, sizeof(req)) == (int)WRITE_LEN);
	CU_ASSERT(memcmp(req, bal_on, WRITE_LEN) == 0);
	/* one frame per write: no password (0x05) step before or after */
	struct bms_request rq = {.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET, .value = 0};
	rq.step = 1;
	CU_ASSERT(bms_jk.build_request(NULL, &rq, req, sizeof(req)) == 0);
	/* what it cannot send */
	CU_ASSERT(set_req(BMS_CMD_CHARGE_FET, 2, req, sizeof(req)) == -EINVAL);
	CU_ASSERT(set_req(BMS_CMD_BALANCER, -1, req, sizeof(req)) == -EINVAL);
	CU_ASSERT(set_req(BMS_CMD_SOC, 5000, req, sizeof(req)) == -EOPNOTSUPP);
	CU_ASSERT(set_req(BMS_CMD_NONE, 0, req, sizeof(req)) == -EOPNOTSUPP);
	CU_ASSERT(set_req(BMS_CMD_CHARGE_FET, 0, req, WRITE_LEN - 1) == -ENOBUFS);
}

/*
 * The reply: a write reply (command 0x02) from the BMS is the
 * acknowledgement, whatever its data; our echo, another master's write and
 * another command's reply are foreign; a corrupt frame is no frame.
 */
static void test_set_replies(void)
{
	struct bms_request off = {.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET, .value = 0};
	static const uint8_t echo_rec[] = {0xAB, 0x00};
	uint8_t f[1024];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	int n = jk_frame(f, sizeof(f), JK_CMD_WRITE, JK_SRC_BMS, JK_T_REPLY, echo_rec, 2);
	CU_ASSERT_FATAL(n == (int)WRITE_LEN);
	CU_ASSERT(dc_feed(&bms_jk, NULL, &off, f, (size_t)n, &s) == 0);
	/* the reply's data is not documented: not checked */
	n = jk_frame(f, sizeof(f), JK_CMD_WRITE, JK_SRC_BMS, JK_T_REPLY, NULL, 0);
	CU_ASSERT(dc_feed(&bms_jk, NULL, &off, f, (size_t)n, &s) == 0);
	CU_ASSERT(s.valid == 0); /* an acknowledgement fills nothing */

	/* our echo, then the reply: the echo is skipped, the reply taken */
	uint8_t buf[128];
	CU_ASSERT_FATAL(set_req(BMS_CMD_CHARGE_FET, 0, buf, sizeof(buf)) == (int)WRITE_LEN);
	n = jk_frame(buf + WRITE_LEN, sizeof(buf) - WRITE_LEN, JK_CMD_WRITE, JK_SRC_BMS, JK_T_REPLY,
		     echo_rec, 2);
	unsigned foreign = 0;
	CU_ASSERT(feed(&off, buf, WRITE_LEN + (size_t)n, &s, &foreign) == 0);
	CU_ASSERT(foreign == 1);
	/* the echo alone is no acknowledgement */
	CU_ASSERT(feed(&off, buf, WRITE_LEN, &s, &foreign) == -ENODATA && foreign == 1);

	/* another master's write reply-shaped frame (Bluetooth source): not ours */
	n = jk_frame(f, sizeof(f), JK_CMD_WRITE, 0x01, JK_T_REPLY, echo_rec, 2);
	CU_ASSERT(bms_jk.parse(NULL, &off, f, (size_t)n, &s) == BMS_FOREIGN);
	/* a read-all reply while we wrote: someone else's exchange; alone, no answer */
	struct bms_snapshot dev = sample_state();
	int m = sim_reply(&dev, &poll0, f, sizeof(f));
	CU_ASSERT_FATAL(m > 0);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(bms_jk.parse(NULL, &off, f, (size_t)m, &s) == BMS_FOREIGN);
	CU_ASSERT(feed(&off, f, (size_t)m, &s, &foreign) == -ENODATA && foreign == 1);
	CU_ASSERT(s.valid == 0);
	/* and a write reply is no answer to a poll */
	n = jk_frame(f, sizeof(f), JK_CMD_WRITE, JK_SRC_BMS, JK_T_REPLY, echo_rec, 2);
	CU_ASSERT(bms_jk.parse(NULL, &poll0, f, (size_t)n, &s) == BMS_FOREIGN);
	/* a corrupt write reply is not a frame: the write is not acknowledged */
	f[n - 1] ^= 0x01;
	size_t start, flen;
	CU_ASSERT(bms_frame_find(&bms_jk, f, (size_t)n, &start, &flen) != BMS_FIND_VALID);
	CU_ASSERT(feed(&off, f, (size_t)n, &s, &foreign) == -ENODATA && foreign == 0);
	/* a write the driver cannot have built is no answer either */
	f[n - 1] ^= 0x01;
	struct bms_request soc = {.kind = BMS_REQ_SET, .command = BMS_CMD_SOC, .value = 5000};
	CU_ASSERT(bms_jk.parse(NULL, &soc, f, (size_t)n, &s) == -EPROTO);
	CU_ASSERT(s.valid == 0);
}

/* describe() of a write request and of its reply, as decode shows them. */
static void test_set_describe(void)
{
	struct bms_frame_desc d;
	CU_ASSERT_FATAL(bms_jk_describe(pub_chg_off, WRITE_LEN, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REQUEST);
	CU_ASSERT(d.command == JK_CMD_WRITE);
	CU_ASSERT(!strcmp(d.name, "write"));
	bool reg = false, val = false, name = false;
	for (unsigned j = 0; j < d.n; j++) {
		const struct bms_desc_item *it = &d.items[j];
		reg |= !strcmp(it->key, "register") && it->num == 0xAB;
		val |= !strcmp(it->key, "value") && !it->is_text && it->num == 0;
		name |= !strcmp(it->key, "register_name") && !strcmp(it->text, "charge_switch");
	}
	CU_ASSERT(reg && val && name);

	struct bms_snapshot dev = sample_state();
	uint8_t rep[64];
	int m = bms_sim_respond(&bms_jk, &dev, 0, pub_chg_off, WRITE_LEN, rep, sizeof(rep));
	CU_ASSERT_FATAL(m == (int)WRITE_LEN);
	CU_ASSERT_FATAL(bms_jk_describe(rep, (size_t)m, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REPLY);
	CU_ASSERT(d.command == JK_CMD_WRITE && !strcmp(d.name, "write"));
	bool sw = false;
	for (unsigned j = 0; j < d.n; j++)
		sw |= !strcmp(d.items[j].key, "charge_switch") && d.items[j].num == 0;
	CU_ASSERT(sw);
}

/* One write through the simulator: 0 when the driver took its reply as done. */
static int sim_set(struct bms_snapshot *dev, enum bms_command cmd, int32_t value)
{
	uint8_t req[64], rep[256];
	int n = set_req(cmd, value, req, sizeof(req));
	if (n <= 0)
		return n < 0 ? n : -EIO;
	int m = bms_sim_respond(&bms_jk, dev, 0, req, (size_t)n, rep, sizeof(rep));
	if (m <= 0)
		return -ETIMEDOUT;
	/* the reply as the simulator builds it (our assumption of the real one) */
	CU_ASSERT(m == (int)WRITE_LEN && rep[8] == JK_CMD_WRITE && rep[9] == JK_SRC_BMS &&
		  rep[10] == JK_T_REPLY && rep[11] == req[11] && rep[12] == req[12]);
	struct bms_snapshot ack;
	memset(&ack, 0, sizeof(ack));
	struct bms_request rq = {.kind = BMS_REQ_SET, .command = cmd, .value = value};
	return dc_feed(&bms_jk, NULL, &rq, rep, (size_t)m, &ack);
}

/* The value of the read-all record key as decode describes the simulator's reply. */
static double sim_setting(struct bms_snapshot *dev, const char *key)
{
	uint8_t rep[1024];
	int m = sim_reply(dev, &poll0, rep, sizeof(rep));
	struct bms_frame_desc d;
	if (m <= 0 || bms_jk_describe(rep, (size_t)m, &d) != 0)
		return -1;
	for (unsigned j = 0; j < d.n; j++)
		if (!strcmp(d.items[j].key, key))
			return d.items[j].num;
	return -1;
}

/* The simulator takes each write: the next poll shows it. */
static void test_set_sim(void)
{
	struct bms_snapshot dev = sample_state(), got;
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_jk, 0, &dev, &got) == 0);
	CU_ASSERT(got.charge_fet && !got.discharge_fet && got.balancer_enabled);
	CU_ASSERT(sim_setting(&dev, "charge_switch") == 1);
	CU_ASSERT(sim_setting(&dev, "discharge_switch") == 0);
	CU_ASSERT(sim_setting(&dev, "active_balance_switch") == 1);

	CU_ASSERT(sim_set(&dev, BMS_CMD_CHARGE_FET, 0) == 0);
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_jk, 0, &dev, &got) == 0);
	CU_ASSERT((got.valid & BMS_V_FETS) && !got.charge_fet && !got.discharge_fet);
	CU_ASSERT(got.balancer_enabled);
	CU_ASSERT(sim_setting(&dev, "charge_switch") == 0);

	CU_ASSERT(sim_set(&dev, BMS_CMD_DISCHARGE_FET, 1) == 0);
	CU_ASSERT(sim_set(&dev, BMS_CMD_BALANCER, 0) == 0);
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_jk, 0, &dev, &got) == 0);
	CU_ASSERT(!got.charge_fet && got.discharge_fet);
	CU_ASSERT((got.valid & BMS_V_BALANCER) && !got.balancer_enabled);
	CU_ASSERT(sim_setting(&dev, "discharge_switch") == 1);
	CU_ASSERT(sim_setting(&dev, "active_balance_switch") == 0);

	CU_ASSERT(sim_set(&dev, BMS_CMD_CHARGE_FET, 1) == 0);
	CU_ASSERT(sim_set(&dev, BMS_CMD_BALANCER, 1) == 0);
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_jk, 0, &dev, &got) == 0);
	CU_ASSERT(got.charge_fet && got.discharge_fet && got.balancer_enabled);

	/* a write it cannot take gets no reply and changes nothing */
	struct bms_snapshot before = dev;
	uint8_t req[64], rep[256];
	static const uint8_t calib[] = {0xAD, 0x00, 0x01}; /* not a switch */
	int n = jk_frame(req, sizeof(req), JK_CMD_WRITE, JK_SRC_PC, JK_T_WRITE_REQ, calib, 3);
	CU_ASSERT(bms_sim_respond(&bms_jk, &dev, 0, req, (size_t)n, rep, sizeof(rep)) == 0);
	CU_ASSERT_FATAL(set_req(BMS_CMD_CHARGE_FET, 0, req, sizeof(req)) == (int)WRITE_LEN);
	req[12] = 2; /* neither on nor off */
	put_u16be(req + WRITE_LEN - 2, bms_sum16(req, WRITE_LEN - 4));
	CU_ASSERT(bms_sim_respond(&bms_jk, &dev, 0, req, WRITE_LEN, rep, sizeof(rep)) == 0);
	CU_ASSERT(memcmp(&dev, &before, sizeof(dev)) == 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"sim_roundtrip", test_sim_roundtrip},
		{"echo", test_echo},
		{"foreign", test_foreign},
		{"read", test_read},
		{"current_limits", test_current_limits},
		{"counts", test_counts},
		{"alarm_bits", test_alarm_bits},
		{"describe_vectors", test_describe_vectors},
		{"property", test_property},
		{"temperature_coding", test_temperature_coding},
		{"set_public_frames", test_set_public_frames},
		{"set_requests", test_set_requests},
		{"set_replies", test_set_replies},
		{"set_describe", test_set_describe},
		{"set_sim", test_set_sim},
		{NULL, NULL},
	};
	return sb_add_suite("jk", tests);
}
