/* SPDX-License-Identifier: MIT */
/* Renogy (Modbus RTU 0x03) driver: vectors, requests, simulator, refusals, describe, property. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/fields.h"
#include "bms/modbus_rtu.h"
#include "bms/renogy_wire.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_renogy;
extern const struct bms_driver bms_jbd_up16s;
#define DRV (&bms_renogy)
#define FAMILY "renogy"

static enum dc_map rn_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	(void)frame;
	(void)len;
	/* aiobmsble's device-info names */
	if (!strcmp(key, "serial_number"))
		return dc_map_common("serial", s, frame, len, ret);
	if (!strcmp(key, "name"))
		return dc_map_common("model", s, frame, len, ret);
	if (!strcmp(key, "heater"))
		return dc_map_common("heating", s, frame, len, ret);
	/* the raw words: no snapshot field, checked through describe (test_describe_vectors) */
	if (!strcmp(key, "alarm_registers_5100_5107"))
		return DC_SKIP;
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	CU_ASSERT(dc_count(DRV, "response") == 5);
	CU_ASSERT(dc_check_vectors(DRV, RN_ADDR_DEFAULT, rn_map) == 5);
	CU_ASSERT(dc_check_family_frames(DRV) == 5);
	CU_ASSERT(dc_check_protocol(DRV, RN_ADDR_DEFAULT) == 5);
}

static void test_requests(void)
{
	/* every captured request is one the driver builds, byte for byte */
	CU_ASSERT(dc_count(DRV, "request") == 5);
	CU_ASSERT(dc_check_requests(DRV, RN_ADDR_DEFAULT) == 5);
}

/* vector order in tests/vectors/renogy.json */
enum { V_STATUS, V_MODEL, V_INFO, V_ALARMS, V_CELLS };

struct ctx {
	uint8_t st[256];
	uint8_t req[64];
	int req_len;
	struct bms_request rq;
};

static void ctx_at(struct ctx *c, uint8_t address, enum bms_req_kind kind, unsigned step)
{
	CU_ASSERT_FATAL(DRV->state_size <= sizeof(c->st));
	memset(c, 0, sizeof(*c));
	CU_ASSERT_FATAL(DRV->init(c->st, address) == 0);
	c->rq = (struct bms_request){.kind = kind, .step = step, .cycle = 1};
	c->req_len = DRV->build_request(c->st, &c->rq, c->req, sizeof(c->req));
	CU_ASSERT_FATAL(c->req_len == 8);
}

/* What the vectors do not list: SOC from the capacities, the sensors' count. */
static void test_vector_extras(void)
{
	uint8_t f[256];
	size_t n = dc_vector_frame(FAMILY, "response", V_STATUS, f, sizeof(f));
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_POLL, 1);
	CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	CU_ASSERT(s.soc_cpct == 9720 && (s.valid & BMS_V_SOC)); /* 97.2 of 100 Ah */
	CU_ASSERT(s.current_ma == -860);
	n = dc_vector_frame(FAMILY, "response", V_CELLS, f, sizeof(f));
	memset(&s, 0, sizeof(s));
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_POLL, 2);
	CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	CU_ASSERT(s.cell_count == 4 && s.cell_mv[0] == 3500 && s.cell_mv[3] == 3300);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 170 && s.temp_dc[1] == 170);
	/* the probe is the model block */
	n = dc_vector_frame(FAMILY, "response", V_MODEL, f, sizeof(f));
	memset(&s, 0, sizeof(s));
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_PROBE, 0);
	CU_ASSERT(c.req[2] == 0x14 && c.req[3] == 0x02 && c.req[5] == 8);
	CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	CU_ASSERT_STRING_EQUAL(s.model, "RBT100LFP12-BT");
	CU_ASSERT(s.valid == BMS_V_MODEL);
	/* aiobmsble's "problem" reply: every alarm and status bit set -> FETs and heater on */
	uint8_t all[21] = {0x30, 0x03, 0x10};
	memset(all + 3, 0xFF, 16);
	put_u16le(all + 19, bms_crc16_modbus(all, 19));
	CU_ASSERT(all[19] == 0xD6 && all[20] == 0xD1); /* the frame the source gives */
	memset(&s, 0, sizeof(s));
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_POLL, 3);
	CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, all, sizeof(all), &s) == 0);
	CU_ASSERT(s.charge_fet && s.discharge_fet && s.heating);
	CU_ASSERT(!(s.valid & BMS_V_ALARMS));
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.cell_count = 4;
	s.cell_mv[0] = 3300;
	s.cell_mv[1] = 3400;
	s.cell_mv[2] = 3300;
	s.cell_mv[3] = 3200;
	s.voltage_mv = 13200;
	s.current_ma = -12340;
	s.capacity_full_mah = 100000;
	s.capacity_remain_mah = 87125;
	s.soc_cpct = 8712; /* 87.125 % rounded down */
	s.cycles = 42;
	s.temp_count = 3;
	s.temp_dc[0] = 251;
	s.temp_dc[1] = -73;
	s.temp_dc[2] = 0;
	s.charge_fet = true;
	s.discharge_fet = false;
	s.heating = true;
	strcpy(s.model, "RBT100LFP12SH-G1");
	strcpy(s.serial, "2103150042");
	strcpy(s.sw_version, "0102");
	s.valid = BMS_V_SERIAL | BMS_V_MODEL | BMS_V_SW_VERSION;
	return s;
}

#define MUST_VALID                                                                                 \
	(BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |           \
	 BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS | BMS_V_HEATING | BMS_V_SERIAL |    \
	 BMS_V_MODEL | BMS_V_SW_VERSION)

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, RN_ADDR_DEFAULT, &s, MUST_VALID);
	dc_check_sim_roundtrip(DRV, RN_ADDR_ALT, &s, MUST_VALID);
	dc_check_alarm_mask(DRV, RN_ADDR_DEFAULT, &s);
	/* 16 cells, charging, the other FET, no sensors, no heater */
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3200 + 100 * (i % 3));
	s.voltage_mv = 52800;
	s.current_ma = 150000;
	s.charge_fet = false;
	s.discharge_fet = true;
	s.heating = false;
	s.temp_count = 0;
	dc_check_sim_roundtrip(DRV, 0x31, &s, MUST_VALID);
}

/* A reply frame at addr for the given data. */
static size_t reply(uint8_t *f, uint8_t addr, const uint8_t *data, size_t n)
{
	f[0] = addr;
	f[1] = 0x03;
	f[2] = (uint8_t)n;
	memcpy(f + 3, data, n);
	put_u16le(f + 3 + n, bms_crc16_modbus(f, 3 + n));
	return n + 5;
}

/*
 * What only a Renogy sends: the probe refuses another device's registers.
 * Binary words (an EG4 LL / Seplos v3 status block at the same size), a
 * model that is not text, status and cell blocks no pack sends.
 */
static void test_plausibility(void)
{
	uint8_t f[256], d[128];
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_PROBE, 0);
	static const uint8_t binary[16] = {0x14, 0xCD, 0xFF, 0x77, 0x0C, 0xF3, 0x0C, 0xF4,
					   0x00, 0x19, 0x27, 0x10, 0x00, 0x00, 0x00, 0x64};
	size_t n = reply(f, RN_ADDR_DEFAULT, binary, 16);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	memset(d, 0, 16); /* all NUL: no model */
	n = reply(f, RN_ADDR_DEFAULT, d, 16);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	memcpy(d, " RBT100LFP12-BT ", 16); /* leading space */
	n = reply(f, RN_ADDR_DEFAULT, d, 16);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	memcpy(d,
	       "RBT\0"
	       "100LFP12-BT\0",
	       16); /* text after the padding */
	n = reply(f, RN_ADDR_DEFAULT, d, 16);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	memcpy(d,
	       "RBT100LFP\x01"
	       "2-BT  ",
	       16);
	n = reply(f, RN_ADDR_DEFAULT, d, 16);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	CU_ASSERT(s.valid == 0);
	memcpy(d, "RBT50LFP48S\0\0\0\0\0", 16);
	n = reply(f, RN_ADDR_DEFAULT, d, 16);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	CU_ASSERT_STRING_EQUAL(s.model, "RBT50LFP48S");

	/* status: remaining above full, no full capacity, no voltage */
	uint8_t st[14] = {0xFF, 0xAA, 0x00, 0x88, 0x00, 0x01, 0x7B,
			  0xB0, 0x00, 0x01, 0x86, 0xA0, 0x00, 0x0F};
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_POLL, 1);
	memset(&s, 0, sizeof(s));
	n = reply(f, RN_ADDR_DEFAULT, st, 14);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	memcpy(d, st, 14);
	put_u32be(d + 4, 100001);
	n = reply(f, RN_ADDR_DEFAULT, d, 14);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	memcpy(d, st, 14);
	put_u32be(d + 8, 0);
	put_u32be(d + 4, 0);
	n = reply(f, RN_ADDR_DEFAULT, d, 14);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	memcpy(d, st, 14);
	put_u16be(d + 2, 0);
	n = reply(f, RN_ADDR_DEFAULT, d, 14);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	CU_ASSERT(s.valid == 0);

	/* cells: 0 or 17 cells, 17 sensors */
	size_t vn = dc_vector_frame(FAMILY, "response", V_CELLS, f, sizeof(f));
	CU_ASSERT_FATAL(vn == 73);
	memcpy(d, f + 3, 68);
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_POLL, 2);
	static const uint16_t bad_cells[] = {0, 17};
	for (size_t i = 0; i < 2; i++) {
		put_u16be(d, bad_cells[i]);
		n = reply(f, RN_ADDR_DEFAULT, d, 68);
		CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	}
	put_u16be(d, 4);
	put_u16be(d + 34, 17);
	n = reply(f, RN_ADDR_DEFAULT, d, 68);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EPROTO);
	CU_ASSERT(s.valid == 0);
}

/*
 * A JBD UP16S on the line (another Modbus-like family, function 0x78):
 * its simulator stays silent to every Renogy request, and none of its
 * replies is a frame or an answer for this driver.
 */
static void test_refuses_up16s(void)
{
	struct bms_snapshot dev = sample_state();
	dev.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		dev.cell_mv[i] = 3300;
	dev.voltage_mv = 52800;
	dev.soc_cpct = 5000;
	dev.capacity_full_mah = 100000;
	dev.capacity_remain_mah = 50000;
	uint8_t rst[256], ust[256], req[64], rep[600];
	static const struct bms_request kinds[] = {
		{.kind = BMS_REQ_PROBE},
		{.kind = BMS_REQ_POLL, .step = 0, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 1, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 2, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 3, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 4, .cycle = 1},
	};
	/* the UP16S simulator at the Renogy addresses and its own 1..16 */
	static const uint8_t addrs[] = {1, 16, RN_ADDR_DEFAULT};
	for (size_t a = 0; a < sizeof(addrs); a++)
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			CU_ASSERT_FATAL(DRV->init(rst, addrs[a]) == 0);
			int n = DRV->build_request(rst, &kinds[k], req, sizeof(req));
			CU_ASSERT_FATAL(n == 8);
			CU_ASSERT(bms_sim_respond(&bms_jbd_up16s, &dev, addrs[a], req, (size_t)n,
						  rep, sizeof(rep)) == 0);
		}
	/* the UP16S replies (status and product) offered to every Renogy step */
	for (uint8_t ua = 1; ua <= 16; ua += 15) {
		CU_ASSERT_FATAL(bms_jbd_up16s.init(ust, ua) == 0);
		for (unsigned step = 0; step < 2; step++) {
			struct bms_request urq = {.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
			int n = bms_jbd_up16s.build_request(ust, &urq, req, sizeof(req));
			CU_ASSERT_FATAL(n > 0);
			int m = bms_sim_respond(&bms_jbd_up16s, &dev, ua, req, (size_t)n, rep,
						sizeof(rep));
			CU_ASSERT_FATAL(m > 0);
			size_t start, flen;
			CU_ASSERT(bms_frame_find(DRV, rep, (size_t)m, &start, &flen) !=
				  BMS_FIND_VALID);
			for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				CU_ASSERT_FATAL(DRV->init(rst, ua) == 0);
				struct bms_snapshot s;
				memset(&s, 0, sizeof(s));
				CU_ASSERT(dc_feed(DRV, rst, &kinds[k], rep, (size_t)m, &s) ==
					  -ENODATA);
				CU_ASSERT(s.valid == 0);
			}
		}
	}
}

/*
 * Every frame of every other family in the tree (tests/vectors/: Seplos v3,
 * EG4 LL, Pylontech RT, JBD UP16S, JK PB, the '~' and binary families),
 * offered at the frame's own unit address to the probe, every poll step and
 * every READ: never a whole answer, never a field written. Frames are read
 * as the worker reads them, foreign ones skipped.
 */
static void test_other_families(void)
{
	size_t count;
	const struct vec *v = dc_vectors(&count);
	unsigned offered = 0;
	for (size_t i = 0; i < count; i++) {
		if (!strcmp(v[i].protocol, FAMILY))
			continue;
		uint8_t f[1024];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		uint8_t addr = f[0] >= 1 && f[0] <= RN_ADDR_MAX ? f[0] : RN_ADDR_DEFAULT;
		struct bms_request rqs[12];
		size_t nr = 0;
		rqs[nr++] = (struct bms_request){.kind = BMS_REQ_PROBE};
		for (unsigned st = 0; st < 5; st++)
			rqs[nr++] =
				(struct bms_request){.kind = BMS_REQ_POLL, .step = st, .cycle = 1};
		static const uint16_t regs[] = {RN_MODEL, RN_STATUS, RN_CELLS, RN_ALARMS, RN_INFO};
		for (size_t k = 0; k < 5; k++)
			rqs[nr++] = (struct bms_request){.kind = BMS_REQ_READ, .reg = regs[k]};
		for (size_t k = 0; k < nr; k++) {
			uint8_t st[64];
			CU_ASSERT_FATAL(DRV->init(st, addr) == 0);
			struct bms_snapshot s;
			memset(&s, 0, sizeof(s));
			int r = dc_feed_any(DRV, st, &rqs[k], f, (size_t)n, &s);
			if (r >= 0)
				fprintf(stderr, "renogy: %s vector %zu accepted (request %zu)\n",
					v[i].family, i, k);
			CU_ASSERT(r < 0);
			CU_ASSERT(s.valid == 0);
		}
		offered++;
	}
	CU_ASSERT(offered >= 40);
}

/* Frames of someone else's exchange are foreign; our unit's refusal is -EREMOTEIO. */
static void test_foreign(void)
{
	uint8_t f[256], g[256];
	size_t n = dc_vector_frame(FAMILY, "response", V_STATUS, f, sizeof(f));
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	ctx_at(&c, RN_ADDR_DEFAULT, BMS_REQ_POLL, 1);
	/* another unit's reply */
	memcpy(g, f, n);
	g[0] = RN_ADDR_ALT;
	put_u16le(g + n - 2, bms_crc16_modbus(g, n - 2));
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, n, &s) == BMS_FOREIGN);
	/* the echo of our request: one whole frame, foreign, then the reply */
	size_t start, flen;
	CU_ASSERT(bms_frame_find(DRV, c.req, 8, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(DRV->parse(c.st, &c.rq, c.req, 8, &s) == BMS_FOREIGN);
	memcpy(g, c.req, 8);
	memcpy(g + 8, f, n);
	CU_ASSERT(bms_frame_find(DRV, g, n + 8, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && flen == 8);
	CU_ASSERT(dc_feed(DRV, c.st, &c.rq, g + 8, n, &s) == 0);
	CU_ASSERT(s.voltage_mv == 13600);
	/* a reply of another size answers another request */
	memset(&s, 0, sizeof(s));
	n = dc_vector_frame(FAMILY, "response", V_CELLS, f, sizeof(f));
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == BMS_FOREIGN);
	/* exceptions: ours refuses, another unit's is not ours */
	uint8_t ex[5] = {RN_ADDR_DEFAULT, 0x83, 0x02, 0, 0};
	put_u16le(ex + 3, bms_crc16_modbus(ex, 3));
	CU_ASSERT(DRV->parse(c.st, &c.rq, ex, 5, &s) == -EREMOTEIO);
	ex[0] = 0x31;
	put_u16le(ex + 3, bms_crc16_modbus(ex, 3));
	CU_ASSERT(DRV->parse(c.st, &c.rq, ex, 5, &s) == BMS_FOREIGN);
	/* a write reply (function 0x06) on the bus */
	uint8_t wr[8] = {RN_ADDR_DEFAULT, 0x06, 0x13, 0x88, 0x00, 0x01, 0, 0};
	put_u16le(wr + 6, bms_crc16_modbus(wr, 6));
	CU_ASSERT(DRV->parse(c.st, &c.rq, wr, 8, &s) == BMS_FOREIGN);
	CU_ASSERT(s.valid == 0);
	/* bad CRC */
	n = dc_vector_frame(FAMILY, "response", V_STATUS, f, sizeof(f));
	f[n - 1] ^= 1;
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == -EBADMSG);
	/* init: the unit range, 0 = the default 0x30 */
	uint8_t st[64];
	CU_ASSERT(DRV->init(st, 248) == -EINVAL);
	CU_ASSERT(DRV->init(st, 0) == 0);
	struct bms_request probe = {.kind = BMS_REQ_PROBE};
	CU_ASSERT(DRV->build_request(st, &probe, g, sizeof(g)) == 8 && g[0] == RN_ADDR_DEFAULT);
	probe.step = 1;
	CU_ASSERT(DRV->build_request(st, &probe, g, sizeof(g)) == 0);
	probe.step = 0;
	CU_ASSERT(DRV->build_request(st, &probe, g, 7) == -ENOSPC);
	struct bms_request set = {.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET};
	CU_ASSERT(DRV->build_request(st, &set, g, sizeof(g)) == -EOPNOTSUPP);
}

/* The simulator answers reads of its register image at its address only. */
static void test_sim_silence(void)
{
	struct bms_snapshot dev = sample_state();
	uint8_t req[16], rep[300];
	int n = bms_modbus_read_request(RN_ADDR_DEFAULT, 3, 5042, 7, req, sizeof(req));
	CU_ASSERT_FATAL(n == 8);
	CU_ASSERT(bms_sim_respond(DRV, &dev, RN_ADDR_DEFAULT, req, 8, rep, sizeof(rep)) == 19);
	CU_ASSERT(bms_sim_respond(DRV, &dev, RN_ADDR_ALT, req, 8, rep, sizeof(rep)) == 0);
	req[7] ^= 1;
	CU_ASSERT(bms_sim_respond(DRV, &dev, RN_ADDR_DEFAULT, req, 8, rep, sizeof(rep)) == 0);
	/* outside the image: exception 2; another function: exception 1 */
	n = bms_modbus_read_request(RN_ADDR_DEFAULT, 3, 0x1000, 17, req, sizeof(req));
	CU_ASSERT(bms_sim_respond(DRV, &dev, RN_ADDR_DEFAULT, req, 8, rep, sizeof(rep)) == 5);
	CU_ASSERT(rep[1] == 0x83 && rep[2] == 0x02);
	n = bms_modbus_read_request(RN_ADDR_DEFAULT, 4, 5042, 7, req, sizeof(req));
	CU_ASSERT(bms_sim_respond(DRV, &dev, RN_ADDR_DEFAULT, req, 8, rep, sizeof(rep)) == 5);
	CU_ASSERT(rep[1] == 0x83 && rep[2] == 0x01);
	/* an empty model plays a Renogy one: a pack always names itself */
	dev.model[0] = '\0';
	n = bms_modbus_read_request(RN_ADDR_DEFAULT, 3, RN_MODEL, 8, req, sizeof(req));
	CU_ASSERT(bms_sim_respond(DRV, &dev, RN_ADDR_DEFAULT, req, 8, rep, sizeof(rep)) == 21);
	CU_ASSERT(memcmp(rep + 3, "RBT", 3) == 0);
}

/* describe() of every captured frame: direction, block, address, the raw words. */
static void test_describe_vectors(void)
{
	size_t count;
	const struct vec *v = dc_vectors(&count);
	unsigned described = 0, words = 0;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(v[i].protocol, FAMILY))
			continue;
		uint8_t f[256];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(bms_driver_describe(DRV, f, (size_t)n, &d) == 0);
		bool req = !strcmp(v[i].direction, "request");
		CU_ASSERT(d.dir == (req ? BMS_DIR_REQUEST : BMS_DIR_REPLY));
		CU_ASSERT(d.address == RN_ADDR_DEFAULT);
		if (req) {
			const struct vec_expect *e = vec_get(&v[i], "start_register");
			CU_ASSERT(e && d.command == (uint16_t)e->num);
			const struct bms_desc_item *it = dc_desc_find(&d, "register_count");
			e = vec_get(&v[i], "register_count");
			CU_ASSERT(it && e && it->num == e->num);
		}
		const struct vec_expect *al = vec_get(&v[i], "alarm_registers_5100_5107");
		if (al) {
			static const char *const names[] = {
				"cell_voltage_alarms_hi",
				"cell_voltage_alarms_lo",
				"cell_temp_alarms_hi",
				"cell_temp_alarms_lo",
				"other_alarms",
				"status1",
				"status2",
				"status3",
			};
			CU_ASSERT(d.command == RN_ALARMS);
			CU_ASSERT_FATAL(al->kind == VEC_ARRAY && al->n == 8);
			for (unsigned k = 0; k < 8; k++) {
				const struct bms_desc_item *it = dc_desc_find(&d, names[k]);
				CU_ASSERT(it && it->num == al->arr[k]);
				words++;
			}
		}
		described++;
	}
	CU_ASSERT(described == 10);
	CU_ASSERT(words == 8);
	/* the model reply is told as the model block, the others by their size */
	uint8_t f[256];
	size_t n = dc_vector_frame(FAMILY, "response", V_MODEL, f, sizeof(f));
	struct bms_frame_desc d;
	CU_ASSERT(bms_driver_describe(DRV, f, n, &d) == 0 && d.command == RN_MODEL);
	n = dc_vector_frame(FAMILY, "response", V_CELLS, f, sizeof(f));
	CU_ASSERT(bms_driver_describe(DRV, f, n, &d) == 0 && d.command == RN_CELLS);
	CU_ASSERT(dc_desc_find(&d, "bms_temp_count") &&
		  dc_desc_find(&d, "bms_temp_count")->num == 2);
	n = dc_vector_frame(FAMILY, "response", V_INFO, f, sizeof(f));
	CU_ASSERT(bms_driver_describe(DRV, f, n, &d) == 0 && d.command == RN_INFO);
	CU_ASSERT(dc_desc_find(&d, "status3") && dc_desc_find(&d, "status2")->num == 6);
	f[n - 1] ^= 1;
	CU_ASSERT(bms_driver_describe(DRV, f, n, &d) == -1);
}

/* READ: each block has its request and decodes; another register is refused. */
static void test_read_kind(void)
{
	struct bms_snapshot dev = sample_state(), s;
	uint8_t st[64], req[16], rep[300];
	CU_ASSERT_FATAL(DRV->init(st, RN_ADDR_ALT) == 0);
	static const struct {
		uint16_t reg;
		uint32_t bit;
	} blocks[] = {{RN_MODEL, BMS_V_MODEL},
		      {RN_STATUS, BMS_V_VOLTAGE},
		      {RN_CELLS, BMS_V_CELLS},
		      {RN_ALARMS, BMS_V_FETS},
		      {RN_INFO, BMS_V_SERIAL}};
	dev.cell_count = 4;
	dev.voltage_mv = 13200;
	for (size_t i = 0; i < 5; i++) {
		struct bms_request rq = {.kind = BMS_REQ_READ, .reg = blocks[i].reg};
		int n = DRV->build_request(st, &rq, req, sizeof(req));
		CU_ASSERT_FATAL(n == 8);
		CU_ASSERT(req[0] == RN_ADDR_ALT && ((req[2] << 8) | req[3]) == blocks[i].reg);
		int m = bms_sim_respond(DRV, &dev, RN_ADDR_ALT, req, 8, rep, sizeof(rep));
		memset(&s, 0, sizeof(s));
		CU_ASSERT(m > 0 && DRV->parse(st, &rq, rep, (size_t)m, &s) == 0);
		CU_ASSERT(s.valid & blocks[i].bit);
		rq.step = 1;
		CU_ASSERT(DRV->build_request(st, &rq, req, sizeof(req)) == 0);
	}
	struct bms_request bad = {.kind = BMS_REQ_READ, .reg = 5043};
	CU_ASSERT(DRV->build_request(st, &bad, req, sizeof(req)) == -EOPNOTSUPP);
}

/* ---- property test: random states through the simulator and the decode engine ---- */

/* What the blocks carry exactly: cells in 0.1 V, 10 mA, 100 mV, 0.1 degC, SOC from the capacities.
 */
static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->cell_count = (uint8_t)(1 + dc_rnd(RN_MAX_CELLS));
	int32_t sum = 0;
	for (unsigned i = 0; i < s->cell_count; i++) {
		s->cell_mv[i] = (uint16_t)(100 * (25 + dc_rnd(18)));
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum;
	s->current_ma = ((int32_t)dc_rnd(60001) - 30000) * 10;
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(2000000));
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah + 1);
	s->soc_cpct = (uint16_t)((int64_t)s->capacity_remain_mah * 10000 / s->capacity_full_mah);
	s->cycles = dc_rnd(65536);
	s->temp_count = (uint8_t)dc_rnd(BMS_MAX_TEMPS + 1);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(1401) - 400);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	s->heating = dc_rnd(2);
	snprintf(s->model, sizeof(s->model), "RBT%uLFP%u-%c", 50 + dc_rnd(300), 12 + 12 * dc_rnd(4),
		 'A' + (char)dc_rnd(26));
	snprintf(s->serial, sizeof(s->serial), "%08u", 20000000 + dc_rnd(9999999));
	snprintf(s->sw_version, sizeof(s->sw_version), "%04u", dc_rnd(10000));
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_FULL | BMS_V_CAP_REMAIN |
		   BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS | BMS_V_HEATING |
		   BMS_V_MODEL | BMS_V_SERIAL | BMS_V_SW_VERSION;
}

static void test_property(void)
{
	/* "RENOGY": the same states every run */
	CU_ASSERT(dc_check_property(DRV, 0x52454e4f4759ull, 600, 1, RN_ADDR_MAX, random_state) ==
		  600);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"vector_extras", test_vector_extras},
		{"sim_roundtrip", test_sim_roundtrip},
		{"plausibility", test_plausibility},
		{"refuses_up16s", test_refuses_up16s},
		{"other_families", test_other_families},
		{"foreign", test_foreign},
		{"sim_silence", test_sim_silence},
		{"describe_vectors", test_describe_vectors},
		{"read_kind", test_read_kind},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("renogy", tests);
}
