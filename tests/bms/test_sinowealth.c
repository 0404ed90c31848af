/* SPDX-License-Identifier: MIT */
/*
 * Sinowealth driver: the captured replies, the CRC over request and data,
 * corruption found by parse (the frame check cannot), exchanges, the probe's
 * plausibility, simulator, alarms, describe, other families refused, property.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/registry.h"
#include "bms/sim/sim.h"
#include "bms/sinowealth_wire.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

#define DRV (&bms_sinowealth)

static enum dc_map sw_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	(void)frame;
	(void)len;
	static const char *const frame_keys[] = {"register", "width", NULL};
	if (dc_key_in(key, frame_keys))
		return DC_SKIP; /* told by describe(): test_describe */
	unsigned n;
	char tail[4];
	if (sscanf(key, "cell%u_%3s", &n, tail) == 2 && !strcmp(tail, "v") && n >= 1 &&
	    n <= SW_MAX_CELLS) {
		/* a poll writes each cell as it comes; the list is valid after the last */
		ret->kind = VEC_NUM;
		ret->num = s->cell_mv[n - 1] / 1000.0;
		return DC_MAPPED;
	}
	return DC_UNKNOWN;
}

/* The captured replies with the register they answer (their "register" key). */
struct capture {
	uint8_t frame[8];
	size_t len;
	uint8_t reg;
};

static size_t captures(struct capture *c, size_t cap)
{
	size_t n = 0, nv;
	const struct vec *v = dc_vectors(&nv);
	for (size_t i = 0; i < nv && n < cap; i++) {
		if (strcmp(v[i].protocol, "sinowealth") || strcmp(v[i].direction, "response"))
			continue;
		int len = vec_hex(v[i].hex, c[n].frame, sizeof(c[n].frame));
		const struct vec_expect *e = vec_get(&v[i], "register");
		CU_ASSERT_FATAL(len > 0 && e != NULL);
		c[n].len = (size_t)len;
		c[n].reg = (uint8_t)e->num;
		n++;
	}
	return n;
}

static int read_reg(uint8_t reg, const uint8_t *f, size_t len, struct bms_snapshot *s)
{
	struct bms_request rq = {.kind = BMS_REQ_READ, .reg = reg};
	return dc_parse_at(DRV, 0, &rq, f, len, s);
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(DRV, "response") == 11);
	CU_ASSERT(dc_check_vectors(DRV, 0, sw_map) == dc_count(DRV, "response"));
	CU_ASSERT(dc_check_family_frames(DRV) == dc_count(DRV, "response"));
	/* read one by one as `serialbattery decode` does with the request known */
	struct capture c[16];
	size_t n = captures(c, 16);
	CU_ASSERT(n == 11);
	for (size_t i = 0; i < n; i++) {
		struct bms_snapshot s;
		CU_ASSERT(read_reg(c[i].reg, c[i].frame, c[i].len, &s) == 0);
		if (c[i].reg == SW_REG_VOLTAGE) {
			CU_ASSERT(s.voltage_mv == 13325 && (s.valid & BMS_V_VOLTAGE));
		} else {
			CU_ASSERT(s.cell_count == c[i].reg && (s.valid & BMS_V_CELLS) &&
				  s.cell_mv[c[i].reg - 1] == (c[i].frame[0] << 8 | c[i].frame[1]));
		}
	}
}

static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(DRV, 0) == dc_count(DRV, "request"));
	/* 4 data bytes for the 32-bit registers, 2 for the rest */
	uint8_t st[64], q[8];
	DRV->init(st, 0);
	struct bms_request rq = {.kind = BMS_REQ_READ, .reg = SW_REG_CURRENT};
	CU_ASSERT(DRV->build_request(st, &rq, q, sizeof(q)) == 3 && q[0] == 0x0A && q[1] == 0x10 &&
		  q[2] == 4);
	rq.reg = SW_REG_SOC;
	CU_ASSERT(DRV->build_request(st, &rq, q, sizeof(q)) == 3 && q[2] == 2);
	rq.reg = SW_REG_MANUFACTURE; /* not read */
	CU_ASSERT(DRV->build_request(st, &rq, q, sizeof(q)) == -EOPNOTSUPP);
	rq.kind = BMS_REQ_SET;
	rq.command = BMS_CMD_CHARGE_FET;
	CU_ASSERT(DRV->build_request(st, &rq, q, sizeof(q)) == -EOPNOTSUPP);
	CU_ASSERT(DRV->flags & BMS_F_OPT_IN);
}

/*
 * The frame check cannot see a corrupted reply (it fits some register about
 * once in twelve); parse, knowing the register asked, sees every one: every
 * byte of every captured reply flipped three ways, and every reply under
 * every other register's request, is refused.
 */
static void test_corruption_found_by_parse(void)
{
	struct capture c[16];
	size_t n = captures(c, 16);
	unsigned refused = 0, frame_ok = 0;
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	for (size_t i = 0; i < n; i++) {
		for (size_t b = 0; b < c[i].len; b++)
			for (size_t k = 0; k < sizeof(flips); k++) {
				uint8_t f[8];
				memcpy(f, c[i].frame, c[i].len);
				f[b] ^= flips[k];
				size_t fl;
				if (DRV->frame_check(f, c[i].len, &fl) == 1 && fl == c[i].len)
					frame_ok++;
				struct bms_snapshot s;
				int r = read_reg(c[i].reg, f, c[i].len, &s);
				CU_ASSERT(r < 0 && r != BMS_FOREIGN);
				if (r < 0)
					refused++;
			}
		for (unsigned reg = 1; reg <= SW_REG_CONFIG; reg++) {
			if (reg == c[i].reg || sw_width((uint8_t)reg) != 2)
				continue;
			struct bms_snapshot s;
			CU_ASSERT(read_reg((uint8_t)reg, c[i].frame, c[i].len, &s) == -EBADMSG);
		}
	}
	CU_ASSERT(refused == n * 3 * 3);
	/* what the frame check alone lets through: the reason parse must check */
	fprintf(stderr, "\n    sinowealth: %u of %zu corrupted replies pass the frame check\n",
		frame_ok, n * 9);
	CU_ASSERT(frame_ok > 0);
}

/* Request and reply back to back (an echoing adapter, a capture): one frame. */
static void test_exchange(void)
{
	uint8_t x[16] = {0x0A, 0x01, 0x02, 0x0D, 0x03, 0xFD};
	size_t start, len;
	CU_ASSERT(bms_frame_find(DRV, x, 6, &start, &len) == BMS_FIND_VALID && start == 0 &&
		  len == 6);
	struct bms_snapshot s;
	CU_ASSERT(read_reg(1, x, 6, &s) == 0 && s.cell_mv[0] == 3331);
	/* another register's exchange on the line: someone else's */
	CU_ASSERT(read_reg(2, x, 6, &s) == BMS_FOREIGN);
	/* the request alone is a request; with its reply still coming, wait */
	CU_ASSERT(bms_frame_find(DRV, x, 3, &start, &len) == BMS_FIND_VALID && len == 3);
	CU_ASSERT(read_reg(1, x, 3, &s) == BMS_FOREIGN);
	CU_ASSERT(bms_frame_find(DRV, x, 5, &start, &len) == BMS_FIND_NEED_MORE && start == 0);
	/* an exchange is checked whole: each byte flipped, it is no exchange */
	for (size_t b = 0; b < 6; b++) {
		uint8_t f[6];
		memcpy(f, x, 6);
		f[b] ^= 0x10;
		size_t fl = 0;
		CU_ASSERT(!(DRV->frame_check(f, 6, &fl) == 1 && fl == 6));
	}
	/* behind noise it is found where it starts */
	uint8_t g[16] = {0xA5, 0x01, 0x90};
	memcpy(g + 3, x, 6);
	CU_ASSERT(bms_frame_find(DRV, g + 3, 6, &start, &len) == BMS_FIND_VALID && len == 6);
	/* a 32-bit register: current -1234 mA */
	uint8_t c[8] = {0x0A, 0x10, 0x04, 0xFF, 0xFF, 0xFB, 0x2E};
	c[7] = bms_crc8(0, c, 7);
	CU_ASSERT(bms_frame_find(DRV, c, 8, &start, &len) == BMS_FIND_VALID && len == 8);
	CU_ASSERT(read_reg(SW_REG_CURRENT, c, 8, &s) == 0 && s.current_ma == -1234);
	CU_ASSERT(read_reg(SW_REG_CURRENT, c + 3, 5, &s) == 0 && s.current_ma == -1234);
	/* a 2-byte reply to a 4-byte request is not its answer */
	CU_ASSERT(read_reg(SW_REG_CURRENT, x + 3, 3, &s) == -EBADMSG);
}

static struct bms_snapshot sample_state(unsigned cells, unsigned temps)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.cell_count = (uint8_t)cells;
	int32_t sum = 0;
	for (unsigned i = 0; i < cells; i++) {
		s.cell_mv[i] = (uint16_t)(3301 + 7 * i);
		sum += s.cell_mv[i];
	}
	s.voltage_mv = sum;
	s.current_ma = -12345;
	s.soc_cpct = 8700;
	s.capacity_full_mah = 280000;
	s.capacity_remain_mah = 243600;
	s.cycles = 17;
	s.temp_count = (uint8_t)temps;
	s.temp_dc[0] = 215;
	s.temp_dc[1] = -35;
	s.charge_fet = true;
	s.discharge_fet = true;
	s.valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_FULL |
		  BMS_V_CAP_REMAIN | BMS_V_CYCLES | BMS_V_TEMPS | BMS_V_FETS | BMS_V_ALARMS;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state(4, 1);
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
	dc_check_alarm_mask(DRV, 0, &s);
	s = sample_state(10, 2);
	s.charge_fet = false;
	s.alarm[BMS_ALARM_HIGH_VOLTAGE] = 2;
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
	s = sample_state(3, 2);
	s.current_ma = 56789;
	dc_check_sim_roundtrip(DRV, 0, &s, s.valid);
}

/* The probe against a simulated board: taken only when the pack makes sense. */
static int probe(const struct bms_snapshot *dev)
{
	uint8_t st[64], q[8], rep[16];
	struct bms_snapshot d = *dev, snap;
	DRV->init(st, 0);
	memset(&snap, 0, sizeof(snap));
	for (unsigned step = 0;; step++) {
		struct bms_request rq = {.kind = BMS_REQ_PROBE, .step = step, .cycle = 1};
		int n = DRV->build_request(st, &rq, q, sizeof(q));
		if (n == 0)
			return step ? 0 : -ENODATA;
		int m = bms_sim_respond(DRV, &d, 0, q, (size_t)n, rep, sizeof(rep));
		if (m <= 0)
			return -ETIMEDOUT;
		int r = dc_feed(DRV, st, &rq, rep, (size_t)m, &snap);
		if (r)
			return r;
	}
}

static void test_probe_plausibility(void)
{
	struct bms_snapshot s = sample_state(4, 1);
	CU_ASSERT(probe(&s) == 0);
	/* the pack voltage far from the cells it states (0x17) */
	s.voltage_mv = 8000;
	CU_ASSERT(probe(&s) == -EPROTO);
	s.voltage_mv = 4 * 4700;
	CU_ASSERT(probe(&s) == -EPROTO);
	/* cell 1 far off the average */
	s = sample_state(4, 1);
	s.cell_mv[0] = 2700;
	CU_ASSERT(probe(&s) == -EPROTO);
	s.cell_mv[0] = 3000; /* 0.3 V low: an unbalanced pack, still a pack */
	CU_ASSERT(probe(&s) == 0);
	/* SOC above 100 % */
	uint8_t st[64], f[3] = {0x00, 0x65, 0};
	f[2] = sw_reply_crc(SW_REG_SOC, f, 2);
	DRV->init(st, 0);
	struct bms_snapshot snap;
	struct bms_request rq = {.kind = BMS_REQ_PROBE, .step = 2, .cycle = 1};
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(DRV->parse(st, &rq, f, 3, &snap) == -EPROTO && snap.valid == 0);
	/* cell 1 without the configuration and voltage before it: no pack */
	uint8_t c1[3] = {0x0D, 0x03, 0xFD};
	rq.step = 3;
	CU_ASSERT(DRV->parse(st, &rq, c1, 3, &snap) == -EPROTO);
}

/* No other family's captured reply, given to every probe step, makes a probe. */
static void test_refuses_others(void)
{
	size_t nv;
	const struct vec *v = dc_vectors(&nv);
	unsigned tried = 0;
	for (size_t i = 0; i < nv; i++) {
		if (!strcmp(v[i].protocol, "sinowealth") || strcmp(v[i].direction, "response"))
			continue;
		uint8_t f[2048], st[64];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		if (n <= 0)
			continue;
		DRV->init(st, 0);
		struct bms_snapshot snap;
		memset(&snap, 0, sizeof(snap));
		bool all = true;
		for (unsigned step = 0; step < 4 && all; step++) {
			struct bms_request rq = {.kind = BMS_REQ_PROBE, .step = step, .cycle = 1};
			all = dc_feed(DRV, st, &rq, f, (size_t)n, &snap) == 0;
		}
		CU_ASSERT(!all);
		tried++;
	}
	CU_ASSERT(tried > 50);
}

static void test_describe(void)
{
	struct bms_frame_desc d;
	uint8_t q[3] = {0x0A, 0x0B, 0x02}, r[3] = {0x34, 0x0D, 0x0F};
	uint8_t x[6] = {0x0A, 0x0B, 0x02, 0x34, 0x0D, 0x0F};
	CU_ASSERT(bms_sinowealth_describe(q, 3, &d) == 0 && d.dir == BMS_DIR_REQUEST &&
		  d.command == SW_REG_VOLTAGE && d.address == -1);
	CU_ASSERT(bms_sinowealth_describe(r, 3, &d) == 0 && d.dir == BMS_DIR_REPLY &&
		  d.command == SW_REG_VOLTAGE && !strcmp(d.name, "pack voltage"));
	bool guessed = false;
	for (unsigned i = 0; i < d.n; i++)
		guessed |= !strcmp(d.items[i].key, "register_guessed");
	CU_ASSERT(guessed);
	CU_ASSERT(bms_sinowealth_describe(x, 6, &d) == 0 && d.dir == BMS_DIR_REPLY &&
		  d.command == SW_REG_VOLTAGE);
	for (unsigned i = 0; i < d.n; i++)
		CU_ASSERT(strcmp(d.items[i].key, "register_guessed") != 0);
	/* the configuration: 4 cells, two sensors */
	uint8_t cfg[6] = {0x0A, 0x17, 0x02, 0x00, 0x41};
	cfg[5] = bms_crc8(0, cfg, 5);
	CU_ASSERT_FATAL(bms_sinowealth_describe(cfg, 6, &d) == 0);
	double cells = 0, sensors = 0;
	for (unsigned i = 0; i < d.n; i++) {
		if (!strcmp(d.items[i].key, "cells"))
			cells = d.items[i].num;
		if (!strcmp(d.items[i].key, "sensors"))
			sensors = d.items[i].num;
	}
	CU_ASSERT(cells == 4 && sensors == 2);
	CU_ASSERT(bms_sinowealth_describe(r, 2, &d) == -1);
}

/* ---- property test: random boards through the simulator and decode ---- */

static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->cell_count = (uint8_t)(SW_MIN_CELLS + dc_rnd(SW_MAX_CELLS - SW_MIN_CELLS + 1));
	int32_t sum = 0;
	for (unsigned i = 0; i < s->cell_count; i++) {
		s->cell_mv[i] = (uint16_t)(2600 + dc_rnd(1200));
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum;
	s->current_ma = (int32_t)dc_rnd(400001) - 200000;
	s->soc_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->capacity_full_mah = (int32_t)(1000 + dc_rnd(1000000));
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah + 1);
	s->cycles = dc_rnd(5000);
	s->temp_count = (uint8_t)(1 + dc_rnd(2));
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(1400) - 400);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		if ((DRV->alarms >> a & 1u) && dc_rnd(6) == 0)
			s->alarm[a] = 2;
	s->valid = BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_FULL |
		   BMS_V_CAP_REMAIN | BMS_V_CYCLES | BMS_V_TEMPS | BMS_V_FETS | BMS_V_ALARMS;
}

static void test_property(void)
{
	/* "SINOW": the same boards every run */
	CU_ASSERT(dc_check_property(DRV, 0x53494E4F57ull, 300, 0, 1, random_state) == 300);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"corruption_found_by_parse", test_corruption_found_by_parse},
		{"exchange", test_exchange},
		{"sim_roundtrip", test_sim_roundtrip},
		{"probe_plausibility", test_probe_plausibility},
		{"refuses_others", test_refuses_others},
		{"describe", test_describe},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("sinowealth", tests);
}
