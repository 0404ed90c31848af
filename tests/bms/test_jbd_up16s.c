/* SPDX-License-Identifier: MIT */
/* JBD UP16S (function 0x78) driver: vectors, frame check conformance, requests, simulator. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/fields.h"
#include "bms/jbd_up16s_wire.h"
#include "bms/stats.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_jbd_up16s;
#define DRV (&bms_jbd_up16s)
#define FAMILY "jbd_up16s"

static enum dc_map up_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	(void)frame;
	(void)len;
	/* the snapshot has no ambient sensor field (see the driver's header) */
	if (!strcmp(key, "ambient_temp_c"))
		return DC_SKIP;
	if (!strcmp(key, "mosfet_bits"))
		return (s->valid & BMS_V_FETS)
			       ? dc_num(ret, (s->discharge_fet ? 1 : 0) + (s->charge_fet ? 2 : 0))
			       : DC_UNKNOWN;
	if (!strcmp(key, "avg_cell_v")) {
		if (!(s->valid & BMS_V_CELLS))
			return DC_UNKNOWN;
		struct bms_stats cs;
		bms_stats_compute(s, &cs);
		return dc_num(ret, cs.cell_count ? cs.cell_sum_mv / 1000.0 / cs.cell_count : 0);
	}
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	CU_ASSERT(dc_check_vectors(DRV, 1, up_map) == dc_count(DRV, "response"));
}

static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(DRV, 1) == 1);
}

struct ctx {
	uint8_t st[256];
	uint8_t req[64];
	int req_len;
	struct bms_request rq; /* the step's descriptor, for parse */
};

/* State for address, with the request of poll step `step` built. */
static void ctx_at(struct ctx *c, uint8_t address, unsigned step)
{
	CU_ASSERT_FATAL(DRV->state_size <= sizeof(c->st));
	memset(c, 0, sizeof(*c));
	CU_ASSERT_FATAL(DRV->init(c->st, address) == 0);
	c->rq = (struct bms_request){.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
	c->req_len = DRV->build_request(c->st, &c->rq, c->req, sizeof(c->req));
	CU_ASSERT_FATAL(c->req_len > 0);
}

/* What the vectors do not list: the tail, limits, rated capacity, SOH. */
static void test_vector_extras(void)
{
	uint8_t f[512];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	ctx_at(&c, 1, 0);
	CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	CU_ASSERT(s.valid & BMS_V_SERIAL);
	CU_ASSERT_STRING_EQUAL(s.serial, "JBD48100000");
	CU_ASSERT(s.valid & BMS_V_SW_VERSION);
	CU_ASSERT_STRING_EQUAL(s.sw_version, "12.4");
	CU_ASSERT(s.capacity_design_mah == 100000);
	CU_ASSERT(s.soh_cpct == 10000);
	CU_ASSERT(s.max_charge_ma == 200000 && (s.valid & BMS_V_MAX_CHARGE_I));
	CU_ASSERT(s.max_discharge_ma == 200000 && (s.valid & BMS_V_MAX_DISCHARGE_I));
	CU_ASSERT(s.balancing == 0 && (s.valid & BMS_V_BALANCING));
	CU_ASSERT(s.mosfet_temp_dc == 210);
	CU_ASSERT(s.valid & BMS_V_ALARMS);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		CU_ASSERT(s.alarm[a] == 0);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53120;
	s.current_ma = -12340;
	s.soc_cpct = 8712;
	s.soh_cpct = 9700;
	s.capacity_remain_mah = 87120;
	s.capacity_full_mah = 98000;
	s.capacity_design_mah = 100000;
	s.cycles = 42;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3300 + i);
	s.balancing = (1u << 0) | (1u << 15); /* cells 1 and 16 */
	s.temp_count = 4;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = -70;
	s.temp_dc[2] = 0;
	s.temp_dc[3] = 412;
	s.mosfet_temp_dc = 310;
	s.charge_fet = true;
	s.discharge_fet = false;
	s.max_charge_ma = 100000;
	s.max_discharge_ma = 150000;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 2;
	s.alarm[BMS_ALARM_HIGH_CURRENT] = 2;
	s.alarm[BMS_ALARM_LOW_SOC] = 1;
	strcpy(s.sw_version, "12.1.7");
	strcpy(s.serial, "UP16S015-2403-0042");
	strcpy(s.model, "UP16S015");
	s.valid = BMS_V_MOSFET_TEMP | BMS_V_CAP_DESIGN | BMS_V_SERIAL | BMS_V_ALARMS | BMS_V_SOH |
		  BMS_V_SW_VERSION | BMS_V_MODEL;
	return s;
}

#define MUST_VALID                                                                                 \
	(BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |                \
	 BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |            \
	 BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING | BMS_V_ALARMS | BMS_V_SERIAL |          \
	 BMS_V_SW_VERSION | BMS_V_MODEL | BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I)

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(DRV, 1, &s, MUST_VALID);
	dc_check_alarm_mask(DRV, 1, &s);
	dc_check_sim_roundtrip(DRV, 16, &s, MUST_VALID);
	/* charging, the other FET, 32 cells, no sensors, other alarm levels */
	s.current_ma = 150000;
	s.charge_fet = false;
	s.discharge_fet = true;
	s.cell_count = 32;
	for (unsigned i = 0; i < 32; i++)
		s.cell_mv[i] = (uint16_t)(3200 + 3 * i);
	s.temp_count = 0;
	memset(s.alarm, 0, sizeof(s.alarm));
	s.alarm[BMS_ALARM_INTERNAL_FAILURE] = 2;
	s.alarm[BMS_ALARM_HIGH_INTERNAL_TEMPERATURE] = 1;
	s.alarm[BMS_ALARM_CELL_IMBALANCE] = 1;
	dc_check_sim_roundtrip(DRV, 7, &s, MUST_VALID);
}

/* Build a status reply from the vector's data with edits, fixing length and CRC. */
static size_t reframe(uint8_t *f, size_t n_data)
{
	put_u16be(f + 6, (uint16_t)n_data);
	put_u16le(f + 8 + n_data, bms_crc16_modbus(f, 8 + n_data));
	return n_data + 10;
}

/* MOSFET bits: bit 0 = discharge, bit 1 = charge (dbus-serialbattery and ESPHome). */
static void test_fet_bits(void)
{
	uint8_t f[512];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	for (unsigned bits = 0; bits < 4; bits++) {
		put_u16be(f + 8 + 32, (uint16_t)bits);
		n = reframe(f, n - 10);
		struct ctx c;
		struct bms_snapshot s;
		memset(&s, 0, sizeof(s));
		ctx_at(&c, 1, 0);
		CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
		CU_ASSERT(s.discharge_fet == ((bits & 1) != 0));
		CU_ASSERT(s.charge_fet == ((bits & 2) != 0));
	}
}

/* Every fault and alarm bit: its documented alarm at level 2 / 1, or nothing. */
static void test_alarm_bits(void)
{
	static const int8_t fault_alarm[32] = {
		BMS_ALARM_HIGH_CELL_VOLTAGE,
		BMS_ALARM_LOW_CELL_VOLTAGE,
		BMS_ALARM_HIGH_VOLTAGE,
		BMS_ALARM_LOW_VOLTAGE,
		BMS_ALARM_HIGH_CHARGE_CURRENT,
		BMS_ALARM_HIGH_CHARGE_CURRENT,
		BMS_ALARM_HIGH_DISCHARGE_CURRENT,
		BMS_ALARM_HIGH_DISCHARGE_CURRENT,
		BMS_ALARM_HIGH_CHARGE_TEMPERATURE,
		BMS_ALARM_LOW_CHARGE_TEMPERATURE,
		BMS_ALARM_HIGH_TEMPERATURE,
		BMS_ALARM_LOW_TEMPERATURE,
		BMS_ALARM_HIGH_INTERNAL_TEMPERATURE,
		BMS_ALARM_HIGH_TEMPERATURE,
		BMS_ALARM_LOW_TEMPERATURE,
		BMS_ALARM_CELL_IMBALANCE,
		-1, /* temperature difference */
		BMS_ALARM_LOW_SOC,
		BMS_ALARM_HIGH_CURRENT,
		BMS_ALARM_INTERNAL_FAILURE,
		BMS_ALARM_INTERNAL_FAILURE,
		BMS_ALARM_INTERNAL_FAILURE,
		BMS_ALARM_INTERNAL_FAILURE,
		BMS_ALARM_INTERNAL_FAILURE,
		BMS_ALARM_INTERNAL_FAILURE,
		-1, /* full-charge protection */
		BMS_ALARM_INTERNAL_FAILURE,
		-1,
		-1,
		-1,
		-1,
		-1,
	};
	static const int8_t warn_alarm[32] = {
		BMS_ALARM_HIGH_CELL_VOLTAGE,
		BMS_ALARM_LOW_CELL_VOLTAGE,
		BMS_ALARM_HIGH_VOLTAGE,
		BMS_ALARM_LOW_VOLTAGE,
		BMS_ALARM_HIGH_CHARGE_CURRENT,
		BMS_ALARM_HIGH_DISCHARGE_CURRENT,
		BMS_ALARM_HIGH_CHARGE_TEMPERATURE,
		BMS_ALARM_LOW_CHARGE_TEMPERATURE,
		BMS_ALARM_HIGH_TEMPERATURE,
		BMS_ALARM_LOW_TEMPERATURE,
		BMS_ALARM_HIGH_INTERNAL_TEMPERATURE,
		BMS_ALARM_HIGH_TEMPERATURE,
		BMS_ALARM_LOW_TEMPERATURE,
		BMS_ALARM_CELL_IMBALANCE,
		-1, /* temperature difference */
		BMS_ALARM_LOW_SOC,
		BMS_ALARM_INTERNAL_FAILURE,
		-1, /* RTC */
		-1, /* full-charge protection */
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
		-1,
	};
	uint8_t f[512];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	for (unsigned word = 0; word < 2; word++) {
		const int8_t *map = word ? warn_alarm : fault_alarm;
		uint8_t level = word ? 1 : 2;
		for (unsigned b = 0; b < 32; b++) {
			put_u32be(f + 8 + 24, word ? 0 : 1u << b);
			put_u32be(f + 8 + 28, word ? 1u << b : 0);
			n = reframe(f, n - 10);
			struct ctx c;
			struct bms_snapshot s;
			memset(&s, 0, sizeof(s));
			s.alarm[BMS_ALARM_FUSE_BLOWN] = 2; /* stale: parse clears the set */
			ctx_at(&c, 1, 0);
			CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
			unsigned raised = 0;
			for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
				if (s.alarm[a])
					raised++;
			if (map[b] >= 0) {
				CU_ASSERT(s.alarm[map[b]] == level);
				CU_ASSERT(raised == 1);
			} else {
				CU_ASSERT(raised == 0);
			}
		}
	}
	/* a fault outranks a warning for the same alarm */
	put_u32be(f + 8 + 24, 1u << 0);
	put_u32be(f + 8 + 28, 1u << 0);
	n = reframe(f, n - 10);
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	ctx_at(&c, 1, 0);
	CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	CU_ASSERT(s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] == 2);
}

/* Replies that are not ours or do not fit. */
static void test_rejects(void)
{
	uint8_t f[512], g[512];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	size_t start, flen;
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));

	/* another pack's reply (address 2) while we asked pack 1, and the other way */
	memcpy(g, f, n);
	g[0] = 2;
	reframe(g, n - 10);
	ctx_at(&c, 1, 0);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, n, &s) == BMS_FOREIGN);
	ctx_at(&c, 2, 0);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, n, &s) == 0);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == BMS_FOREIGN);

	/* the status reply does not answer the product step: someone else's exchange */
	ctx_at(&c, 1, 1);
	CU_ASSERT(c.req[2] == 0x28 && c.req[3] == 0x10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, f, n, &s) == BMS_FOREIGN);

	/* function 0x45 is framed (skipped whole) but never parsed; others are no frame */
	memcpy(g, f, n);
	g[1] = 0x45;
	reframe(g, n - 10);
	CU_ASSERT(bms_frame_find(DRV, g, n, &start, &flen) == BMS_FIND_VALID);
	ctx_at(&c, 1, 0);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, n, &s) == BMS_FOREIGN);
	g[1] = 0x79;
	reframe(g, n - 10);
	CU_ASSERT(bms_frame_find(DRV, g, n, &start, &flen) == BMS_FIND_INVALID);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, n, &s) == -EBADMSG);

	/* another end register: the answer to someone else's request */
	memcpy(g, f, n);
	g[5] = 0x9F;
	reframe(g, n - 10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, n, &s) == BMS_FOREIGN);

	/* bad CRC */
	memcpy(g, f, n);
	g[n - 1] ^= 0x01;
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, n, &s) == -EBADMSG);
	CU_ASSERT(bms_frame_find(DRV, g, n, &start, &flen) != BMS_FIND_VALID);

	/* our own request echoed by the adapter is a frame, but no reply */
	CU_ASSERT(c.req_len == 10);
	CU_ASSERT(bms_frame_find(DRV, c.req, 10, &start, &flen) == BMS_FIND_VALID);
	struct bms_snapshot before = s;
	CU_ASSERT(DRV->parse(c.st, &c.rq, c.req, 10, &s) == BMS_FOREIGN);
	CU_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);
	/* ... and an echo in front of the reply is one whole frame, the reply follows */
	memcpy(g, c.req, 10);
	memcpy(g + 10, f, n);
	CU_ASSERT(bms_frame_find(DRV, g, n + 10, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && flen == 10);
	CU_ASSERT(dc_feed(DRV, c.st, &c.rq, g + 10, n, &s) == 0);

	/* a header look-alike with a huge length does not stall the real frame */
	uint8_t junk[] = {0x01, 0x78, 0x10, 0x00, 0x10, 0xA0, 0x01, 0xF0};
	memcpy(g, junk, sizeof(junk));
	memcpy(g + sizeof(junk), f, n);
	CU_ASSERT(bms_frame_find(DRV, g, n + sizeof(junk), &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(start == sizeof(junk) && flen == n);
	/* ... but when the real frame is still partial, wait at the look-alike */
	CU_ASSERT(bms_frame_find(DRV, g, sizeof(junk) + n - 1, &start, &flen) ==
		  BMS_FIND_NEED_MORE);
	CU_ASSERT(start == 0);

	/* too short for the fixed part, cells announced but not sent, too many cells */
	memcpy(g, f, n);
	size_t m = reframe(g, 60);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EPROTO);
	memcpy(g, f, n);
	put_u16be(g + 8 + 66, 80);
	m = reframe(g, n - 10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EPROTO);
	put_u16be(g + 8 + 66, 0);
	m = reframe(g, n - 10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EPROTO);
	/* temperatures announced beyond the data */
	memcpy(g, f, n);
	put_u16be(g + 8 + 100, 40);
	m = reframe(g, n - 10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EPROTO);
	/* impossible SOC, current beyond +3000 A */
	memcpy(g, f, n);
	put_u16be(g + 8 + 8, 10001);
	m = reframe(g, n - 10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EPROTO);
	memcpy(g, f, n);
	put_u32be(g + 8 + 4, 600001);
	m = reframe(g, n - 10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EPROTO);

	/* a slave forwarded without the tail: the lists still decode, no serial/version */
	memcpy(g, f, n);
	m = reframe(g, 110);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == 0);
	CU_ASSERT(s.cell_count == 16 && s.temp_count == 4);
	CU_ASSERT(!(s.valid & (BMS_V_SERIAL | BMS_V_SW_VERSION | BMS_V_BALANCING)));

	/* init refuses addresses beyond the bus; 0 means the default, 1 */
	uint8_t st[256];
	CU_ASSERT(DRV->init(st, 17) == -EINVAL);
	CU_ASSERT(DRV->init(st, 0) == 0);
	uint8_t req[16];
	struct bms_request probe = {.kind = BMS_REQ_PROBE};
	CU_ASSERT(DRV->build_request(st, &probe, req, sizeof(req)) == 10);
	CU_ASSERT(req[0] == 1);
	probe.step = 1;
	CU_ASSERT(DRV->build_request(st, &probe, req, sizeof(req)) == 0);
	probe.step = 0;
	CU_ASSERT(DRV->build_request(st, &probe, req, 9) == -ENOSPC);
}

/* A 5-byte exception reply addr fn|0x80 code crc. */
static size_t exception_frame(uint8_t *f, uint8_t addr, uint8_t fn, uint8_t code)
{
	f[0] = addr;
	f[1] = fn;
	f[2] = code;
	put_u16le(f + 3, bms_crc16_modbus(f, 3));
	return 5;
}

/*
 * The Modbus module's frame check and reply matching: an exception reply is
 * one whole frame (skipped at once, not scanned byte by byte), our pack's
 * 0xF8 is a refusal, anyone else's exception is not ours, and a standard
 * Modbus frame on this bus is garbage.
 */
static void test_modbus_replies(void)
{
	uint8_t f[512], g[600];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	size_t start, flen;
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	ctx_at(&c, 1, 0);

	/* pack 1 refuses the read (exception 2, illegal address) */
	size_t m = exception_frame(g, 1, 0xF8, 0x02);
	CU_ASSERT(bms_frame_find(DRV, g, m, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && flen == 5);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EREMOTEIO);
	/* ... pack 2's refusal, and an exception to the master's 0x45, are not ours */
	m = exception_frame(g, 2, 0xF8, 0x02);
	CU_ASSERT(bms_frame_find(DRV, g, m, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == BMS_FOREIGN);
	m = exception_frame(g, 1, 0xC5, 0x01);
	CU_ASSERT(bms_frame_find(DRV, g, m, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == BMS_FOREIGN);
	/* ... a unit beyond the bus's 16, a bad CRC, a cut one: no frame */
	m = exception_frame(g, 17, 0xF8, 0x02);
	CU_ASSERT(bms_frame_find(DRV, g, m, &start, &flen) == BMS_FIND_INVALID);
	m = exception_frame(g, 1, 0xF8, 0x02);
	g[4] ^= 0x01;
	CU_ASSERT(bms_frame_find(DRV, g, m, &start, &flen) == BMS_FIND_INVALID);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EBADMSG);
	m = exception_frame(g, 1, 0xF8, 0x02);
	CU_ASSERT(bms_frame_find(DRV, g, 4, &start, &flen) == BMS_FIND_NEED_MORE);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, 4, &s) == -EBADMSG);
	/* nothing was written by any of these */
	CU_ASSERT(s.valid == 0);

	/* an exception in front of the reply is one frame; the reply follows whole */
	m = exception_frame(g, 2, 0xF8, 0x02);
	memcpy(g + m, f, n);
	CU_ASSERT(bms_frame_find(DRV, g, m + n, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && flen == m);
	CU_ASSERT(bms_frame_find(DRV, g + m, n, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && flen == n);

	/* a MOSFET temperature beyond the field (raw 0xFFFF, -50.1 degC after a wrap
	 * before) refuses the whole frame through the map, writing nothing */
	memcpy(g, f, n);
	put_u16be(g + 8 + 16, 0xFFFF);
	m = reframe(g, n - 10);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == -EPROTO);
	CU_ASSERT(s.valid == 0 && s.voltage_mv == 0 && s.cell_count == 0);
	put_u16be(g + 8 + 16, 500 + 32767); /* the largest that fits: 3276.7 degC */
	reframe(g, n - 10);
	CU_ASSERT(DRV->parse(c.st, &c.rq, g, m, &s) == 0);
	CU_ASSERT(s.mosfet_temp_dc == 32767);

	/* standard Modbus (a read reply, a single-write echo) from pack 1: garbage here */
	uint8_t rd[] = {0x01, 0x03, 0x02, 0x12, 0x34, 0, 0};
	put_u16le(rd + 5, bms_crc16_modbus(rd, 5));
	CU_ASSERT(bms_frame_find(DRV, rd, sizeof(rd), &start, &flen) == BMS_FIND_INVALID);
	CU_ASSERT(DRV->parse(c.st, &c.rq, rd, sizeof(rd), &s) == -EBADMSG);
	uint8_t wr[] = {0x01, 0x06, 0x00, 0xE1, 0x00, 0x02, 0, 0};
	put_u16le(wr + 6, bms_crc16_modbus(wr, 6));
	CU_ASSERT(bms_frame_find(DRV, wr, sizeof(wr), &start, &flen) == BMS_FIND_INVALID);
}

/* Balancing: bit 0 = cell 1. */
static void test_balance_order(void)
{
	uint8_t f[512];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	put_u16be(f + 8 + 112, 0x8005); /* cells 1, 3 and 16 */
	n = reframe(f, n - 10);
	struct ctx c;
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	ctx_at(&c, 1, 0);
	CU_ASSERT_FATAL(DRV->parse(c.st, &c.rq, f, n, &s) == 0);
	CU_ASSERT(s.balancing == ((1u << 0) | (1u << 2) | (1u << 15)));
}

/* 0x2810 is asked on the first cycle, then every 64th while missing; the core keeps it. */
static void test_product_schedule(void)
{
	uint8_t st[256], req[16], req2[16], rep[600];
	struct bms_snapshot want = sample_state(), s;
	struct bms_held held;
	CU_ASSERT_FATAL(DRV->init(st, 3) == 0);
	bms_held_reset(&held);
	unsigned asked_cycles = 0;
	for (unsigned cycle = 1; cycle <= 130; cycle++) {
		memset(&s, 0, sizeof(s));
		bool asked = false;
		struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = bms_held_next_cycle(&held)};
		for (rq.step = 0;; rq.step++) {
			if (!bms_step_due(DRV, rq.step, &held))
				continue;
			rq.attempt = 0;
			int n = DRV->build_request(st, &rq, req, sizeof(req));
			if (rq.step ==
			    0) { /* a retry of step 0 is the same request, no new cycle */
				rq.attempt = 1;
				CU_ASSERT(DRV->build_request(st, &rq, req2, sizeof(req2)) == 10);
				CU_ASSERT(memcmp(req, req2, 10) == 0);
				rq.attempt = 0;
			}
			if (n == 0)
				break;
			CU_ASSERT_FATAL(n == 10);
			int m = bms_sim_respond(DRV, &want, 3, req, (size_t)n, rep, sizeof(rep));
			CU_ASSERT_FATAL(m > 0);
			if (req[2] != 0x28) {
				CU_ASSERT(dc_feed(DRV, st, &rq, rep, (size_t)m, &s) == 0);
				continue;
			}
			asked = true;
			/* silent the first time (a pack behind the master), answers at cycle 64 */
			if (cycle == 64) {
				CU_ASSERT(dc_feed(DRV, st, &rq, rep, (size_t)m, &s) == 0);
				bms_held_keep(DRV, rq.step, &held, &s);
			}
		}
		if (asked)
			asked_cycles++;
		CU_ASSERT(asked == (cycle == 1 || cycle == 64));
		bms_held_apply(&held, &s);
		CU_ASSERT(!!(s.valid & BMS_V_MODEL) == (cycle >= 64));
		if (cycle >= 64) {
			CU_ASSERT_STRING_EQUAL(s.model, "UP16S015");
			CU_ASSERT_STRING_EQUAL(s.sw_version, "12.1.7");
		} else {
			CU_ASSERT_STRING_EQUAL(s.sw_version, "12.1"); /* the status word */
		}
	}
	CU_ASSERT(asked_cycles == 2);
}

/* The simulator answers only well-formed reads for its own address. */
static void test_sim_silence(void)
{
	struct bms_snapshot want = sample_state();
	uint8_t st[256], req[16], rep[600];
	CU_ASSERT_FATAL(DRV->init(st, 5) == 0);
	struct bms_request probe = {.kind = BMS_REQ_PROBE};
	int n = DRV->build_request(st, &probe, req, sizeof(req));
	CU_ASSERT_FATAL(n == 10);
	CU_ASSERT(bms_sim_respond(DRV, &want, 5, req, 10, rep, sizeof(rep)) > 0);
	CU_ASSERT(bms_sim_respond(DRV, &want, 4, req, 10, rep, sizeof(rep)) == 0);
	CU_ASSERT(bms_sim_respond(DRV, &want, 5, req, 9, rep, sizeof(rep)) == 0);
	CU_ASSERT(bms_sim_respond(DRV, &want, 5, req, 10, rep, 20) == -ENOSPC);
	req[9] ^= 1;
	CU_ASSERT(bms_sim_respond(DRV, &want, 5, req, 10, rep, sizeof(rep)) == 0);
	req[9] ^= 1;
	put_u16be(req + 2, 0x1C00); /* a block the simulator does not know */
	put_u16le(req + 8, bms_crc16_modbus(req, 8));
	CU_ASSERT(bms_sim_respond(DRV, &want, 5, req, 10, rep, sizeof(rep)) == 0);
}

/* ---- issue 15: describe, READ, foreign frames, property ---- */

/*
 * describe() of every captured frame: direction, command (the start
 * register), address, and every expected value without a snapshot field
 * as an item under the vectors' key.
 */
static void test_describe_vectors(void)
{
	size_t count;
	const struct vec *v = dc_vectors(&count);
	unsigned described = 0, items = 0;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(v[i].protocol, FAMILY))
			continue;
		uint8_t f[512];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(bms_driver_describe(DRV, f, (size_t)n, &d) == 0);
		bool req = !strcmp(v[i].direction, "request");
		CU_ASSERT(d.dir == (req ? BMS_DIR_REQUEST : BMS_DIR_REPLY));
		CU_ASSERT(d.command == 0x1000 && d.address == 1);
		described++;
		for (unsigned k = 0; k < v[i].nexpect; k++) {
			const struct vec_expect *e = &v[i].expect[k];
			if (bms_field_by_key(e->key))
				continue;
			const struct bms_desc_item *it = dc_desc_find(&d, e->key);
			bool same =
				it && (e->kind == VEC_STR
					       ? it->is_text && !strcmp(it->text, e->str)
					       : !it->is_text && fabs(it->num - e->num) < 0.001);
			if (!same)
				fprintf(stderr, "up16s vector %zu: item '%s' %s\n", i, e->key,
					it ? "differs" : "missing");
			CU_ASSERT(same);
			items++;
		}
	}
	CU_ASSERT(described == 2);
	CU_ASSERT(items == 12); /* 5 request fields, 7 status values */
	/* the status values the vector does not name */
	uint8_t f[512];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	struct bms_frame_desc d;
	CU_ASSERT_FATAL(bms_driver_describe(DRV, f, n, &d) == 0);
	static const struct {
		const char *key;
		double v;
	} more[] = {
		{"operation_status", 0},
		{"fault_bits", 0},
		{"alarm_bits", 0},
		{"connection_bits", 4},
		{"max_temp_no", 4},
		{"max_temp_c", 21.2},
		{"min_temp_no", 2},
		{"min_temp_c", 20.4},
		{"avg_temp_c", 20.8},
		{"max_charge_voltage_v", 58.4},
		{"min_discharge_voltage_v", 44.8},
		{"balance_bits", 0},
		{"firmware_word", 0x0C04},
		{"undecoded_tail_bytes", 12},
	};
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		const struct bms_desc_item *it = dc_desc_find(&d, more[i].key);
		CU_ASSERT(it && fabs(it->num - more[i].v) < 0.001);
	}
}

/* describe() of the frames the vectors lack: product block, exceptions, 0x45. */
static void test_describe_other_frames(void)
{
	struct bms_snapshot dev = sample_state();
	uint8_t st[256], req[16], rep[600];
	struct bms_frame_desc d;
	CU_ASSERT_FATAL(DRV->init(st, 3) == 0);
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
	int n = DRV->build_request(st, &rq, req, sizeof(req));
	CU_ASSERT_FATAL(n == 10);
	CU_ASSERT_FATAL(bms_driver_describe(DRV, req, 10, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REQUEST && d.command == 0x2810 && d.address == 3);
	CU_ASSERT(dc_desc_find(&d, "end_register") &&
		  dc_desc_find(&d, "end_register")->num == 0x283C);
	int m = bms_sim_respond(DRV, &dev, 3, req, 10, rep, sizeof(rep));
	CU_ASSERT_FATAL(m > 0);
	CU_ASSERT_FATAL(bms_driver_describe(DRV, rep, (size_t)m, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == 0x2810 && d.address == 3);
	CU_ASSERT(dc_desc_find(&d, "firmware_major") &&
		  dc_desc_find(&d, "firmware_major")->num == 12);
	CU_ASSERT(dc_desc_find(&d, "firmware_patch") &&
		  dc_desc_find(&d, "firmware_patch")->num == 7);
	/* an exception: its function and code */
	uint8_t ex[5] = {2, 0xF8, 0x02, 0, 0};
	put_u16le(ex + 3, bms_crc16_modbus(ex, 3));
	CU_ASSERT_FATAL(bms_driver_describe(DRV, ex, 5, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REPLY && d.address == 2);
	CU_ASSERT(dc_desc_find(&d, "exception_code") &&
		  dc_desc_find(&d, "exception_code")->num == 2);
	/* the master's 0x45 pack poll, request and reply */
	uint8_t f[512];
	size_t fn = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	f[1] = 0x45;
	reframe(f, fn - 10);
	CU_ASSERT_FATAL(bms_driver_describe(DRV, f, fn, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == 0x1000);
	memcpy(f, req, 10);
	f[1] = 0x45;
	put_u16le(f + 8, bms_crc16_modbus(f, 8));
	CU_ASSERT_FATAL(bms_driver_describe(DRV, f, 10, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REQUEST);
	/* not a frame */
	ex[4] ^= 1;
	CU_ASSERT(bms_driver_describe(DRV, ex, 5, &d) == -1);
}

/* READ: the status and product blocks have their request and decode; others refused. */
static void test_read_kind(void)
{
	struct bms_snapshot dev = sample_state(), s;
	uint8_t st[256], req[16], rep[600];
	CU_ASSERT_FATAL(DRV->init(st, 2) == 0);
	static const uint16_t blocks[] = {0x1000, 0x2810};
	for (size_t i = 0; i < 2; i++) {
		struct bms_request rq = {.kind = BMS_REQ_READ, .reg = blocks[i]};
		int n = DRV->build_request(st, &rq, req, sizeof(req));
		CU_ASSERT_FATAL(n == 10);
		CU_ASSERT(req[0] == 2 && req[1] == 0x78 && ((req[2] << 8) | req[3]) == blocks[i]);
		int m = bms_sim_respond(DRV, &dev, 2, req, 10, rep, sizeof(rep));
		memset(&s, 0, sizeof(s));
		CU_ASSERT(m > 0 && DRV->parse(st, &rq, rep, (size_t)m, &s) == 0);
		CU_ASSERT(s.valid & (i ? BMS_V_MODEL : BMS_V_CELLS));
		/* read as the other block: someone else's exchange */
		struct bms_request other = {.kind = BMS_REQ_READ, .reg = blocks[1 - i]};
		memset(&s, 0, sizeof(s));
		CU_ASSERT(DRV->parse(st, &other, rep, (size_t)m, &s) == BMS_FOREIGN);
		CU_ASSERT(s.valid == 0);
		rq.step = 1;
		CU_ASSERT(DRV->build_request(st, &rq, req, sizeof(req)) == 0);
	}
	struct bms_request bad = {.kind = BMS_REQ_READ, .reg = 0x1C00};
	CU_ASSERT(DRV->build_request(st, &bad, req, sizeof(req)) == -EOPNOTSUPP);
	/* the captured status reply, read whatever end register it was asked with */
	uint8_t f[512];
	size_t n = dc_vector_frame(FAMILY, "response", 0, f, sizeof(f));
	CU_ASSERT_FATAL(DRV->init(st, 1) == 0);
	struct bms_request rd = {.kind = BMS_REQ_READ, .reg = 0x1000};
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(st, &rd, f, n, &s) == 0 && s.cell_count == 16);
	f[5] = 0x9E;
	reframe(f, n - 10);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(DRV->parse(st, &rd, f, n, &s) == 0 && s.cell_count == 16);
}

/*
 * A bus with other masters and packs (item 6): requests for any address (ours
 * included: the echo), other packs' replies and exceptions, the 0x45 pack
 * poll: BMS_FOREIGN whatever step we wait on, the snapshot untouched.
 */
static void test_foreign(void)
{
	struct bms_snapshot dev = sample_state();
	uint8_t frames[8][600];
	size_t lens[8], nf = 0;
	uint8_t ost[256];
	for (uint8_t a = 1; a <= 3; a++) {
		/* a request for pack a, and pack a's status reply (pack 2 is us) */
		CU_ASSERT_FATAL(DRV->init(ost, a) == 0);
		struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = 1};
		int n = DRV->build_request(ost, &rq, frames[nf], sizeof(frames[nf]));
		CU_ASSERT_FATAL(n == 10);
		lens[nf++] = 10;
		if (a == 2)
			continue;
		int m = bms_sim_respond(DRV, &dev, a, frames[nf - 1], 10, frames[nf],
					sizeof(frames[nf]));
		CU_ASSERT_FATAL(m > 0);
		lens[nf++] = (size_t)m;
	}
	/* pack 3's refusal and a 0x45 poll of pack 2 */
	uint8_t *ex = frames[nf];
	ex[0] = 3;
	ex[1] = 0xF8;
	ex[2] = 2;
	put_u16le(ex + 3, bms_crc16_modbus(ex, 3));
	lens[nf++] = 5;
	uint8_t *pp = frames[nf];
	memcpy(pp, frames[2], 10);
	pp[1] = 0x45;
	put_u16le(pp + 8, bms_crc16_modbus(pp, 8));
	lens[nf++] = 10;
	CU_ASSERT_FATAL(nf == 7);

	uint8_t st[256];
	CU_ASSERT_FATAL(DRV->init(st, 2) == 0);
	struct bms_request waits[] = {
		{.kind = BMS_REQ_PROBE},
		{.kind = BMS_REQ_POLL, .step = 0, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 1, .cycle = 1},
		{.kind = BMS_REQ_READ, .reg = 0x1000},
	};
	for (size_t w = 0; w < sizeof(waits) / sizeof(waits[0]); w++)
		for (size_t i = 0; i < nf; i++) {
			size_t start, flen;
			CU_ASSERT(bms_frame_find(DRV, frames[i], lens[i], &start, &flen) ==
				  BMS_FIND_VALID);
			struct bms_snapshot s;
			memset(&s, 0, sizeof(s));
			int r = DRV->parse(st, &waits[w], frames[i], lens[i], &s);
			if (r != BMS_FOREIGN)
				fprintf(stderr, "up16s foreign: wait %zu frame %zu: %d\n", w, i, r);
			CU_ASSERT(r == BMS_FOREIGN);
			CU_ASSERT(s.valid == 0);
		}
}

/*
 * ---- property test (issue item 7) ----
 * Seeded random states through the simulator and back through the decode
 * engine (dc_decode_roundtrip: one poll cycle as one capture, decoded as
 * `serialbattery decode` does), compared field by field.
 */

/* Can the status block carry alarm a at level (fault bits level 2, alarm bits level 1)? */
static bool alarm_level_ok(unsigned a, uint8_t level)
{
	const struct up_bit *map = level == 2 ? fault_map : warn_map;
	size_t n = level == 2 ? NBITS(fault_map) : NBITS(warn_map);
	for (size_t i = 0; i < n; i++)
		if (map[i].alarm == a)
			return true;
	return false;
}

/*
 * A random state the status and product blocks carry exactly: 1..32 cells
 * (the block states its count), 0..8 sensors, -20..60 degC, +-300 A, the
 * current limits in 0.1 A, balancing for cells 1..16 (one word), alarms at
 * the levels the two words can say.
 */
static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dc_random_cells(s, 32, 2500, 1701);
	s->current_ma = ((int32_t)dc_rnd(60001) - 30000) * 10;
	s->soc_cpct = (uint16_t)dc_rnd(10001);
	s->soh_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->capacity_design_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah / 10 + 1) * 10;
	s->cycles = dc_rnd(65536);
	s->temp_count = (uint8_t)dc_rnd(BMS_MAX_TEMPS + 1);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(801) - 200);
	s->mosfet_temp_dc = (int16_t)((int)dc_rnd(801) - 200);
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	uint32_t mask = s->cell_count >= 16 ? 0xFFFFu : (1u << s->cell_count) - 1;
	s->balancing = dc_rnd(1u << 16) & mask;
	s->max_charge_ma = (int32_t)dc_rnd(6001) * 100;
	s->max_discharge_ma = (int32_t)dc_rnd(6001) * 100;
	dc_random_alarms(s, alarm_level_ok);
	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u.%u", dc_rnd(256), dc_rnd(256),
		 dc_rnd(1000));
	snprintf(s->serial, sizeof(s->serial), "JBD%02u%06u", s->cell_count, dc_rnd(1000000));
	snprintf(s->model, sizeof(s->model), "UP16S%03u", dc_rnd(1000));
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_DESIGN |
		   BMS_V_CAP_FULL | BMS_V_CAP_REMAIN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |
		   BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING | BMS_V_ALARMS |
		   BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_SW_VERSION | BMS_V_SERIAL |
		   BMS_V_MODEL;
}

static void test_property(void)
{
	/* "UP16S": the same states every run */
	CU_ASSERT(dc_check_property(DRV, 0x5550313653ull, 600, 1, UP_ADDR_MAX, random_state) ==
		  600);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"vector_extras", test_vector_extras},
		{"sim_roundtrip", test_sim_roundtrip},
		{"fet_bits", test_fet_bits},
		{"alarm_bits", test_alarm_bits},
		{"rejects", test_rejects},
		{"modbus_replies", test_modbus_replies},
		{"balance_order", test_balance_order},
		{"product_schedule", test_product_schedule},
		{"sim_silence", test_sim_silence},
		{"describe_vectors", test_describe_vectors},
		{"describe_other_frames", test_describe_other_frames},
		{"read_kind", test_read_kind},
		{"foreign", test_foreign},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("jbd_up16s", tests);
}
