/* SPDX-License-Identifier: MIT */
/* JBD 0xDD driver: captured vectors, frame check conformance, requests, simulator round trip,
 * the 0xE1 MOSFET write. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/registry.h"
#include "bms/fields.h"
#include "bms/stats.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_jbd;

/* protection bit -> alarm, as the JBD document numbers the bits */
static const uint8_t prot_alarm[] = {
	BMS_ALARM_HIGH_CELL_VOLTAGE,
	BMS_ALARM_LOW_CELL_VOLTAGE,
	BMS_ALARM_HIGH_VOLTAGE,
	BMS_ALARM_LOW_VOLTAGE,
	BMS_ALARM_HIGH_CHARGE_TEMPERATURE,
	BMS_ALARM_LOW_CHARGE_TEMPERATURE,
	BMS_ALARM_HIGH_TEMPERATURE,
	BMS_ALARM_LOW_TEMPERATURE,
	BMS_ALARM_HIGH_CHARGE_CURRENT,
	BMS_ALARM_HIGH_DISCHARGE_CURRENT,
	BMS_ALARM_HIGH_CURRENT,
	BMS_ALARM_INTERNAL_FAILURE,
};

static enum dc_map jbd_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			   size_t len, struct dc_value *ret)
{
	/* register 0xAA: the protection event counters, in enum bms_prot order */
	for (unsigned i = 0; len > 1 && frame[1] == 0xAA && i < BMS_PROT_COUNT; i++)
		if (!strcmp(key, bms_prot_name((enum bms_prot)i)))
			return (s->valid & BMS_V_PROT_EVENTS) ? dc_num(ret, s->prot_events[i])
							      : DC_UNKNOWN;
	if (!strcmp(key, "capacity_nominal_ah"))
		return (s->valid & BMS_V_CAP_DESIGN) ? dc_num(ret, s->capacity_design_mah / 1000.0)
						     : DC_UNKNOWN;
	if (!strcmp(key, "production_date")) {
		ret->kind = VEC_STR;
		snprintf(ret->str, sizeof(ret->str), "%s",
			 (s->valid & BMS_V_SERIAL) ? s->serial : "(no serial)");
		return DC_MAPPED;
	}
	if (!strcmp(key, "hw_model")) {
		ret->kind = VEC_STR;
		snprintf(ret->str, sizeof(ret->str), "%s",
			 (s->valid & BMS_V_MODEL) ? s->model : "(no model)");
		return DC_MAPPED;
	}
	if (!strcmp(key, "fet_bits"))
		return (s->valid & BMS_V_FETS)
			       ? dc_num(ret, (s->charge_fet ? 1 : 0) + (s->discharge_fet ? 2 : 0))
			       : DC_UNKNOWN;
	if (!strcmp(key, "balance_bits_low"))
		return (s->valid & BMS_V_BALANCING) ? dc_num(ret, s->balancing & 0xFFFF)
						    : DC_UNKNOWN;
	if (!strcmp(key, "protection_bits")) {
		if (!(s->valid & BMS_V_ALARMS))
			return DC_UNKNOWN;
		unsigned bits = 0;
		for (unsigned b = 0; b < sizeof(prot_alarm); b++)
			if (s->alarm[prot_alarm[b]] == 2)
				bits |= 1u << b;
		return dc_num(ret, bits);
	}
	/* the NTC count the frame states, and the sensors it sent agree */
	if (!strcmp(key, "ntc_count")) {
		if (!(s->valid & BMS_V_TEMPS) || !(s->valid & BMS_V_COUNTS) ||
		    s->temps_reported != s->temp_count + ((s->valid & BMS_V_MOSFET_TEMP) ? 1 : 0))
			return DC_UNKNOWN;
		return dc_num(ret, s->temps_reported);
	}
	if (!strcmp(key, "temperatures_c")) {
		/* the vectors list the NTCs in wire order: MOSFET first when there is one */
		if (!(s->valid & BMS_V_TEMPS))
			return DC_UNKNOWN;
		ret->kind = VEC_ARRAY;
		ret->n = 0;
		if (s->valid & BMS_V_MOSFET_TEMP)
			ret->arr[ret->n++] = s->mosfet_temp_dc / 10.0;
		for (unsigned i = 0; i < s->temp_count; i++)
			ret->arr[ret->n++] = s->temp_dc[i] / 10.0;
		return DC_MAPPED;
	}
	if (!strcmp(key, "delta_v")) {
		struct bms_stats cs;
		bms_stats_compute(s, &cs);
		return (s->valid & BMS_V_CELLS)
			       ? dc_num(ret, (cs.cell_max_mv - cs.cell_min_mv) / 1000.0)
			       : DC_UNKNOWN;
	}
	/*
	 * 0x03's cell count is the configured string count, reported as such
	 * (cells_reported); the cell list (cell_count) is 0x04's.
	 */
	if (!strcmp(key, "cell_count") && len > 1 && frame[1] == 0x03)
		return (s->valid & BMS_V_COUNTS) && !(s->valid & BMS_V_CELLS)
			       ? dc_num(ret, s->cells_reported)
			       : DC_UNKNOWN;
	/* newer-firmware tail fields without a snapshot field */
	static const char *const skip[] = {"humidity_pct", "alarm_bits", "balance_current_ma",
					   "capacity_remaining2_ah", NULL};
	if (dc_key_in(key, skip))
		return DC_SKIP;
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	/* 8 responses, each answering a poll step (0xAA the fourth) */
	CU_ASSERT(dc_check_vectors(&bms_jbd, 0, jbd_map) == dc_count(&bms_jbd, "response"));
}

static void test_requests(void)
{
	/* 0x03, 0x04, 0x05 and 0xAA (error counters): every captured request is ours */
	CU_ASSERT(dc_check_requests(&bms_jbd, 0) == 4);
	CU_ASSERT(dc_count(&bms_jbd, "request") == 4);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53120;
	s.current_ma = -12340;
	s.soc_cpct = 8700;
	s.capacity_remain_mah = 87000;
	s.capacity_full_mah = 98000;
	s.capacity_design_mah = 100000;
	s.cycles = 42;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3300 + i);
	s.balancing = (1u << 0) | (1u << 15); /* cells 1 and 16 */
	s.temp_count = 2;
	s.temp_dc[0] = 250;
	s.temp_dc[1] = -70;
	s.mosfet_temp_dc = 310;
	s.charge_fet = true;
	s.discharge_fet = false;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 2;
	s.alarm[BMS_ALARM_HIGH_CURRENT] = 2;
	strcpy(s.sw_version, "2.3");
	strcpy(s.serial, "2022-08-20");
	strcpy(s.model, "JBD-SP04S034-L4S-200A-B-U");
	s.valid = BMS_V_MOSFET_TEMP | BMS_V_CAP_DESIGN | BMS_V_SERIAL | BMS_V_ALARMS;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_alarm_mask(&bms_jbd, 0, &s);
	dc_check_sim_roundtrip(&bms_jbd, 0, &s,
			       BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN |
				       BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES |
				       BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_FETS |
				       BMS_V_BALANCING | BMS_V_ALARMS | BMS_V_SERIAL |
				       BMS_V_SW_VERSION | BMS_V_MODEL);
	/* one NTC is a battery sensor, not the MOSFET; 32 cells use the high balance word */
	s.valid &= ~(uint32_t)BMS_V_MOSFET_TEMP;
	s.temp_count = 1;
	s.cell_count = 32;
	for (unsigned i = 0; i < 32; i++)
		s.cell_mv[i] = (uint16_t)(3200 + 3 * i);
	s.balancing = 1u << 31;
	s.current_ma = 150000;
	dc_check_sim_roundtrip(&bms_jbd, 0, &s, BMS_V_TEMPS | BMS_V_BALANCING);
}

/* Build a reply frame for register reg from data (test-side framing). */
static size_t frame_of(uint8_t reg, uint8_t status, const uint8_t *data, size_t n, uint8_t *out)
{
	out[0] = 0xDD;
	out[1] = reg;
	out[2] = status;
	out[3] = (uint8_t)n;
	memcpy(out + 4, data, n);
	put_u16be(out + 4 + n, (uint16_t)(0x10000u - bms_sum16(out + 2, n + 2)));
	out[6 + n] = 0x77;
	return n + 7;
}

static int parse_step(unsigned step, const uint8_t *f, size_t n, struct bms_snapshot *s)
{
	uint8_t st[256], req[16];
	CU_ASSERT_FATAL(bms_jbd.state_size <= sizeof(st));
	memset(st, 0, sizeof(st));
	bms_jbd.init(st, 0);
	struct bms_request rq = {.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
	int r = bms_jbd.build_request(st, &rq, req, sizeof(req));
	CU_ASSERT_FATAL(r > 0);
	return bms_jbd.parse(st, &rq, f, n, s);
}

/* Balance bits: bytes 12-13 are cells 1-16 with bit 0 = cell 1 (JBD document). */
static void test_balance_order(void)
{
	uint8_t d[23], f[64];
	memset(d, 0, sizeof(d));
	d[12] = 0x00;
	d[13] = 0x05; /* cells 1 and 3 */
	d[14] = 0x80;
	d[15] = 0x00; /* cell 32 */
	size_t n = frame_of(0x03, 0, d, sizeof(d), f);
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT(parse_step(0, f, n, &s) == 0);
	CU_ASSERT(s.balancing == ((1u << 0) | (1u << 2) | (1u << 31)));
	CU_ASSERT(s.valid & BMS_V_BALANCING);
	/* no NTC, no tail: zero sensors, full = nominal */
	CU_ASSERT(s.temp_count == 0 && !(s.valid & BMS_V_MOSFET_TEMP));
}

/* Every protection bit maps to its alarm at level 2, nothing else is raised. */
static void test_protection_bits(void)
{
	uint8_t d[23], f[64];
	for (unsigned b = 0; b < 16; b++) {
		memset(d, 0, sizeof(d));
		put_u16be(d + 16, (uint16_t)(1u << b));
		size_t n = frame_of(0x03, 0, d, sizeof(d), f);
		struct bms_snapshot s;
		memset(&s, 0, sizeof(s));
		CU_ASSERT_FATAL(parse_step(0, f, n, &s) == 0);
		unsigned raised = 0;
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			if (s.alarm[a])
				raised++;
		if (b < sizeof(prot_alarm)) {
			CU_ASSERT(s.alarm[prot_alarm[b]] == 2);
			CU_ASSERT(raised == 1);
		} else {
			CU_ASSERT(raised == 0); /* software lock, charge timeout, reserved */
		}
	}
}

/* Replies that do not fit: status 0x80, wrong register, bad lengths. */
static void test_rejects(void)
{
	uint8_t d[96], f[128];
	size_t start, flen;
	struct bms_snapshot s;
	memset(d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	size_t n = frame_of(0x03, 0x80, d, 0, f);
	CU_ASSERT(parse_step(0, f, n, &s) == -EREMOTEIO); /* the BMS refused */
	n = frame_of(0x04, 0, d, 8, f);
	CU_ASSERT(parse_step(0, f, n, &s) == BMS_FOREIGN); /* answers another request */
	CU_ASSERT(parse_step(1, f, n, &s) == 0);
	n = frame_of(0x04, 0, d, 7, f);
	/* frames whose data cannot be that register's are no frames at all */
	CU_ASSERT(parse_step(1, f, n, &s) == -EBADMSG); /* odd length */
	n = frame_of(0x04, 0, d, 2 * BMS_MAX_CELLS + 2, f);
	CU_ASSERT(parse_step(1, f, n, &s) == -EPROTO); /* more cells than we hold */
	n = frame_of(0x03, 0, d, 22, f);
	CU_ASSERT(parse_step(0, f, n, &s) == -EBADMSG); /* too short for basic info */
	d[22] = 3;                                      /* 3 NTCs announced, 2 sent */
	n = frame_of(0x03, 0, d, 27, f);
	CU_ASSERT(parse_step(0, f, n, &s) == -EBADMSG);
	n = frame_of(0x05, 0, (const uint8_t *)"JBD\x01", 4, f);
	CU_ASSERT(parse_step(2, f, n, &s) == -EBADMSG); /* a binary model string */
	n = frame_of(0x05, 0, (const uint8_t *)"JBD-A", 5, f);
	CU_ASSERT(parse_step(2, f, n, &s) == 0);
	CU_ASSERT_STRING_EQUAL(s.model, "JBD-A");
	n = frame_of(0xE1, 0, d, 0, f); /* the MOSFET write's ack: a frame, but no read's answer */
	CU_ASSERT(bms_frame_find(&bms_jbd, f, n, &start, &flen) == BMS_FIND_VALID);
	CU_ASSERT(parse_step(0, f, n, &s) == BMS_FOREIGN);
	n = frame_of(0xE2, 0, d, 0, f); /* other write replies: we send no such writes */
	CU_ASSERT(bms_frame_find(&bms_jbd, f, n, &start, &flen) == BMS_FIND_INVALID);
	n = frame_of(0xE1, 0, d, 0, f);
	f[5] ^= 1; /* checksum */
	struct bms_request rq0 = {.kind = BMS_REQ_POLL, .cycle = 1};
	CU_ASSERT(bms_jbd.parse(NULL, &rq0, f, n, &s) == -EBADMSG);
	/* our own request (an echoing adapter) is a frame, but never a reply */
	uint8_t req[16];
	CU_ASSERT(parse_step(0, f, 0, &s) == -EBADMSG);
	uint8_t st[256];
	bms_jbd.init(st, 0);
	struct bms_request probe = {.kind = BMS_REQ_PROBE};
	int rn = bms_jbd.build_request(st, &probe, req, sizeof(req));
	CU_ASSERT_FATAL(rn == 7);
	CU_ASSERT(bms_frame_find(&bms_jbd, req, 7, &start, &flen) == BMS_FIND_VALID);
	struct bms_snapshot before = s;
	CU_ASSERT(parse_step(0, req, 7, &s) == BMS_FOREIGN);
	CU_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);
}

/*
 * 0x05 is asked on the first cycle, then only every 64th while missing; the
 * core keeps it. The schedule is the driver's declared static step applied
 * by the core (bms_step_due / bms_held_*, as worker_cycle runs it).
 */
static void test_model_schedule(void)
{
	uint8_t st[256], req[16], req2[16], rep[300];
	struct bms_snapshot want, s;
	struct bms_held held;
	memset(&want, 0, sizeof(want));
	strcpy(want.model, "JBD-SP25S003");
	bms_jbd.init(st, 0);
	bms_held_reset(&held);
	unsigned model_cycles = 0;
	for (unsigned cycle = 1; cycle <= 130; cycle++) {
		memset(&s, 0, sizeof(s));
		struct bms_request rq = {.kind = BMS_REQ_POLL};
		rq.cycle = bms_held_next_cycle(&held);
		CU_ASSERT(rq.cycle == cycle);
		bool asked = false;
		for (rq.step = 0;; rq.step++) {
			if (!bms_step_due(&bms_jbd, rq.step, &held))
				continue;
			rq.attempt = 0;
			int n = bms_jbd.build_request(st, &rq, req, sizeof(req));
			if (rq.step ==
			    0) { /* a retry of step 0 is the same request, not a new cycle */
				rq.attempt = 1;
				CU_ASSERT(bms_jbd.build_request(st, &rq, req2, sizeof(req2)) == 7);
				CU_ASSERT(memcmp(req, req2, 7) == 0);
				rq.attempt = 0;
			}
			if (n == 0)
				break;
			if (req[2] != 0x05)
				continue;
			asked = true;
			/* silent the first time (a clone without 0x05), answers at cycle 64 */
			if (cycle == 64) {
				int m = bms_sim_respond(&bms_jbd, &want, 0, req, (size_t)n, rep,
							sizeof(rep));
				CU_ASSERT(dc_feed(&bms_jbd, st, &rq, rep, (size_t)m, &s) == 0);
				bms_held_keep(&bms_jbd, rq.step, &held, &s);
			}
		}
		if (asked)
			model_cycles++;
		CU_ASSERT(asked == (cycle == 1 || cycle == 64));
		bms_held_apply(&held, &s);
		CU_ASSERT(!!(s.valid & BMS_V_MODEL) == (cycle >= 64));
		if (cycle >= 64)
			CU_ASSERT_STRING_EQUAL(s.model, "JBD-SP25S003");
	}
	CU_ASSERT(model_cycles == 2);
}

/* Build the SET request for command/value; returns its length. */
static int set_request(void *st, enum bms_command cmd, int32_t value, uint8_t *req, size_t cap)
{
	struct bms_request rq = {.kind = BMS_REQ_SET, .command = cmd, .value = value};
	return bms_jbd.build_request(st, &rq, req, cap);
}

/*
 * The MOSFET write (register 0xE1, protocols.md section 3): the request
 * bytes, the other FET's last commanded state repeated, the ack accepted and
 * a refusal reported as -EPERM, unsupported commands and values refused.
 */
static void test_mosfet_write(void)
{
	uint8_t st[256], req[32], f[32];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	bms_jbd.init(st, 0);
	CU_ASSERT(bms_driver_can_set(&bms_jbd));
	CU_ASSERT(bms_driver_supports(&bms_jbd, BMS_CMD_CHARGE_FET));
	CU_ASSERT(bms_driver_supports(&bms_jbd, BMS_CMD_DISCHARGE_FET));
	CU_ASSERT(!bms_driver_supports(&bms_jbd, BMS_CMD_SOC));

	/* charge FET off: DD 5A E1 02 00 01 FF 1C 77 */
	static const uint8_t charge_off[] = {0xDD, 0x5A, 0xE1, 0x02, 0x00, 0x01, 0xFF, 0x1C, 0x77};
	CU_ASSERT_FATAL(set_request(st, BMS_CMD_CHARGE_FET, 0, req, sizeof(req)) == 9);
	CU_ASSERT(memcmp(req, charge_off, sizeof(charge_off)) == 0);
	/* a retry builds the same bytes */
	struct bms_request rq = {
		.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET, .value = 0, .attempt = 1};
	uint8_t again[32];
	CU_ASSERT(bms_jbd.build_request(st, &rq, again, sizeof(again)) == 9);
	CU_ASSERT(memcmp(again, charge_off, sizeof(charge_off)) == 0);
	rq.step = 1;
	CU_ASSERT(bms_jbd.build_request(st, &rq, again, sizeof(again)) == 0); /* one step */

	/* the ack DD E1 00 00 00 00 77 completes the step */
	uint8_t none[1] = {0};
	size_t n = frame_of(0xE1, 0x00, none, 0, f);
	rq.step = 0;
	CU_ASSERT(bms_jbd.parse(st, &rq, f, n, &s) == 0);
	CU_ASSERT(s.valid == 0); /* an ack fills nothing */
	/* a read's reply does not answer a write: someone else's exchange */
	uint8_t d[8] = {0};
	size_t cn = frame_of(0x04, 0, d, 8, f + 16);
	CU_ASSERT(bms_jbd.parse(st, &rq, f + 16, cn, &s) == BMS_FOREIGN);

	/* discharge off next: the charge FET stays locked off -> 00 03 */
	CU_ASSERT_FATAL(set_request(st, BMS_CMD_DISCHARGE_FET, 0, req, sizeof(req)) == 9);
	CU_ASSERT(req[4] == 0x00 && req[5] == 0x03);
	/* refused (status 0x80): -EPERM, and nothing is taken as commanded */
	n = frame_of(0xE1, 0x80, none, 0, f);
	rq.command = BMS_CMD_DISCHARGE_FET;
	CU_ASSERT(bms_jbd.parse(st, &rq, f, n, &s) == -EPERM);
	CU_ASSERT_FATAL(set_request(st, BMS_CMD_CHARGE_FET, 1, req, sizeof(req)) == 9);
	CU_ASSERT(req[5] == 0x00); /* the refused discharge lock never took */

	/* unsupported command, impossible value */
	CU_ASSERT(set_request(st, BMS_CMD_SOC, 5000, req, sizeof(req)) == -EOPNOTSUPP);
	CU_ASSERT(set_request(st, BMS_CMD_BALANCER, 1, req, sizeof(req)) == -EOPNOTSUPP);
	CU_ASSERT(set_request(st, BMS_CMD_CHARGE_FET, 2, req, sizeof(req)) == -EINVAL);
	CU_ASSERT(set_request(st, BMS_CMD_CHARGE_FET, 0, req, 8) == -ENOSPC);
}

/* The simulator implements 0xE1: the FET state changes and shows in the next 0x03. */
static void test_sim_mosfet_write(void)
{
	uint8_t st[256], req[32], rep[300];
	struct bms_snapshot dev = sample_state(), s;
	dev.charge_fet = dev.discharge_fet = true;
	dev.valid |= BMS_V_FETS;
	bms_jbd.init(st, 0);

	struct bms_request set = {.kind = BMS_REQ_SET, .command = BMS_CMD_DISCHARGE_FET};
	int n = bms_jbd.build_request(st, &set, req, sizeof(req));
	CU_ASSERT_FATAL(n == 9);
	int m = bms_sim_respond(&bms_jbd, &dev, 0, req, (size_t)n, rep, sizeof(rep));
	CU_ASSERT_FATAL(m == 7);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(dc_feed(&bms_jbd, st, &set, rep, (size_t)m, &s) == 0);
	CU_ASSERT(dev.charge_fet && !dev.discharge_fet);

	struct bms_request poll = {.kind = BMS_REQ_POLL, .cycle = 1};
	n = bms_jbd.build_request(st, &poll, req, sizeof(req));
	m = bms_sim_respond(&bms_jbd, &dev, 0, req, (size_t)n, rep, sizeof(rep));
	CU_ASSERT_FATAL(m > 0);
	CU_ASSERT(dc_feed(&bms_jbd, st, &poll, rep, (size_t)m, &s) == 0);
	CU_ASSERT((s.valid & BMS_V_FETS) && s.charge_fet && !s.discharge_fet);

	/* a write the device does not take (0xE2 outside factory mode): refused */
	static const uint8_t e2[] = {0xDD, 0x5A, 0xE2, 0x02, 0x00, 0x01, 0xFF, 0x1B, 0x77};
	m = bms_sim_respond(&bms_jbd, &dev, 0, e2, sizeof(e2), rep, sizeof(rep));
	CU_ASSERT(m == 7 && rep[1] == 0xE2 && rep[2] == 0x80);
}

/* ---- issue 15: counts, 0xAA, describe, READ, foreign frames, SETUP, property ---- */

static int hex_frame(const char *hex, uint8_t *out, size_t cap)
{
	int n = vec_hex(hex, out, cap);
	CU_ASSERT_FATAL(n > 0);
	return n;
}

/* 0x03 states the cell and NTC counts (bytes 21/22): reported as BMS_V_COUNTS. */
static void test_counts(void)
{
	uint8_t f[300];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	/* 4S, 3 NTCs (the MOSFET sensor among them) */
	int n = hex_frame(
		"dd03001d0618000001f201f400002c7c00000000000080640304030b8b0b8a0b84fa8d77", f,
		sizeof(f));
	CU_ASSERT(parse_step(0, f, (size_t)n, &s) == 0);
	CU_ASSERT((s.valid & BMS_V_COUNTS) && s.cells_reported == 4 && s.temps_reported == 3);
	CU_ASSERT(!(s.valid & BMS_V_CELLS)); /* the list itself is 0x04's */
	/* the bench unit: 16 strings configured, no NTC */
	memset(&s, 0, sizeof(s));
	n = hex_frame("dd030017000000000000271000002c500000000000002000011000ff0577", f, sizeof(f));
	CU_ASSERT(parse_step(0, f, (size_t)n, &s) == 0);
	CU_ASSERT((s.valid & BMS_V_COUNTS) && s.cells_reported == 16 && s.temps_reported == 0);
	/* a string count the protocol cannot carry (0, 33) is no count; the rest decodes */
	uint8_t d[23];
	memset(d, 0, sizeof(d));
	for (unsigned c = 0; c < 2; c++) {
		d[21] = c ? 33 : 0;
		size_t fn = frame_of(0x03, 0, d, sizeof(d), f);
		memset(&s, 0, sizeof(s));
		CU_ASSERT(parse_step(0, f, fn, &s) == 0);
		CU_ASSERT(!(s.valid & BMS_V_COUNTS) && (s.valid & BMS_V_VOLTAGE));
	}
}

/* 0xAA: the 11 counters in enum bms_prot order (the captured frame). */
static void test_error_counters(void)
{
	uint8_t f[64];
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	int n = hex_frame("ddaa0018000000000000007a00020000000000000000000000000001ff6b77", f,
			  sizeof(f));
	CU_ASSERT(parse_step(3, f, (size_t)n, &s) == 0);
	CU_ASSERT(s.valid == BMS_V_PROT_EVENTS);
	CU_ASSERT(s.prot_events[BMS_PROT_CELL_OV] == 122 && s.prot_events[BMS_PROT_CELL_UV] == 2);
	CU_ASSERT(s.prot_events[BMS_PROT_SHORT_CIRCUIT] == 0 &&
		  s.prot_events[BMS_PROT_PACK_UV] == 0);
	/* fewer words than counters: ours, but not a whole set */
	uint8_t d[20] = {0};
	size_t fn = frame_of(0xAA, 0, d, sizeof(d), f);
	memset(&s, 0, sizeof(s));
	CU_ASSERT(parse_step(3, f, fn, &s) == -EPROTO);
	CU_ASSERT(s.valid == 0);
}

/*
 * 0xAA is static data with a refresh: asked on cycle 1, while missing every
 * 100th cycle, once held every 600th; the counters are carried in between.
 */
static void test_error_counter_schedule(void)
{
	uint8_t st[256], req[16], rep[300];
	struct bms_snapshot dev, s;
	struct bms_held held;
	memset(&dev, 0, sizeof(dev));
	dev.prot_events[BMS_PROT_SHORT_CIRCUIT] = 7;
	dev.valid = BMS_V_PROT_EVENTS;
	bms_jbd.init(st, 0);
	bms_held_reset(&held);
	unsigned asked_at[8], nasked = 0;
	for (unsigned cycle = 1; cycle <= 1300; cycle++) {
		memset(&s, 0, sizeof(s));
		struct bms_request rq = {.kind = BMS_REQ_POLL};
		rq.cycle = bms_held_next_cycle(&held);
		for (rq.step = 0;; rq.step++) {
			if (!bms_step_due(&bms_jbd, rq.step, &held))
				continue;
			int n = bms_jbd.build_request(st, &rq, req, sizeof(req));
			if (n == 0)
				break;
			if (req[2] != 0xAA)
				continue;
			if (nasked < 8)
				asked_at[nasked] = cycle;
			nasked++;
			if (cycle == 1)
				continue; /* silent the first time */
			if (cycle == 1200)
				dev.prot_events[BMS_PROT_SHORT_CIRCUIT] = 8; /* a new event */
			int m = bms_sim_respond(&bms_jbd, &dev, 0, req, (size_t)n, rep,
						sizeof(rep));
			CU_ASSERT(dc_feed(&bms_jbd, st, &rq, rep, (size_t)m, &s) == 0);
			bms_held_keep(&bms_jbd, rq.step, &held, &s);
		}
		bms_held_apply(&held, &s);
		CU_ASSERT(!!(s.valid & BMS_V_PROT_EVENTS) == (cycle >= 100));
		if (cycle >= 100)
			CU_ASSERT(s.prot_events[BMS_PROT_SHORT_CIRCUIT] == (cycle >= 1200 ? 8 : 7));
	}
	CU_ASSERT_FATAL(nasked == 4);
	CU_ASSERT(asked_at[0] == 1 && asked_at[1] == 100 && asked_at[2] == 600 &&
		  asked_at[3] == 1200);
}

/*
 * describe() of every captured JBD frame: direction and command, and every
 * expected value the snapshot has no field for is an item under the
 * vectors' own key.
 */
static void test_describe_vectors(void)
{
	size_t count;
	const struct vec *v = dc_vectors(&count);
	unsigned described = 0, items = 0;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(v[i].protocol, "jbd"))
			continue;
		uint8_t f[300];
		int n = hex_frame(v[i].hex, f, sizeof(f));
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(bms_jbd_describe(f, (size_t)n, &d) == 0);
		bool req = !strcmp(v[i].direction, "request");
		CU_ASSERT(d.dir == (req ? BMS_DIR_REQUEST : BMS_DIR_REPLY));
		CU_ASSERT(d.command == (req ? f[2] : f[1]));
		CU_ASSERT(d.address == -1 && d.name[0] != '\0');
		described++;
		for (unsigned k = 0; k < v[i].nexpect; k++) {
			const struct vec_expect *e = &v[i].expect[k];
			if (bms_field_by_key(e->key))
				continue; /* a snapshot field: parse's business (test_vectors) */
			const struct bms_desc_item *it = dc_desc_find(&d, e->key);
			if (!it) {
				fprintf(stderr, "jbd vector %zu: no item '%s'\n", i, e->key);
				CU_FAIL("describe item missing");
				continue;
			}
			bool same = e->kind == VEC_STR
					    ? it->is_text && !strcmp(it->text, e->str)
					    : !it->is_text && fabs(it->num - e->num) < 0.001;
			if (!same)
				fprintf(stderr, "jbd vector %zu: item '%s' differs\n", i, e->key);
			CU_ASSERT(same);
			items++;
		}
	}
	CU_ASSERT(described == dc_count(&bms_jbd, "request") + dc_count(&bms_jbd, "response"));
	CU_ASSERT(described == 12);
	CU_ASSERT(items == 54); /* every non-field value of the 12 frames */
}

/* Build one request for a descriptor; returns its length. */
static int build(void *st, struct bms_request rq, uint8_t *out, size_t cap)
{
	return bms_jbd.build_request(st, &rq, out, cap);
}

/* describe() of the frames the poll never sees: writes, acks, refusals, EEPROM words. */
static void test_describe_other_frames(void)
{
	uint8_t st[256], f[64];
	struct bms_frame_desc d;
	bms_jbd.init(st, 0);
	/* our requests of every kind describe as requests of their register */
	static const struct {
		struct bms_request rq;
		uint8_t reg;
		const char *op;
	} reqs[] = {
		{{.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET}, 0xE1, "write (0x5A)"},
		{{.kind = BMS_REQ_SETUP, .step = 0}, 0x00, "write (0x5A)"},
		{{.kind = BMS_REQ_SETUP, .step = 1}, 0x28, "read (0xA5)"},
		{{.kind = BMS_REQ_SETUP, .step = 2}, 0x29, "read (0xA5)"},
		{{.kind = BMS_REQ_SETUP, .step = BMS_STEP_CLEANUP}, 0x01, "write (0x5A)"},
	};
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		int n = build(st, reqs[i].rq, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_FATAL(bms_jbd_describe(f, (size_t)n, &d) == 0);
		CU_ASSERT(d.dir == BMS_DIR_REQUEST && d.command == reqs[i].reg);
		const struct bms_desc_item *op = dc_desc_find(&d, "op");
		CU_ASSERT(op && !strcmp(op->text, reqs[i].op));
	}
	/* the MOSFET write says which FET it locks, the leave says it discards */
	int n = build(st, reqs[0].rq, f, sizeof(f));
	CU_ASSERT(bms_jbd_describe(f, (size_t)n, &d) == 0);
	CU_ASSERT(dc_desc_find(&d, "charge_fet_off") &&
		  dc_desc_find(&d, "charge_fet_off")->num == 1);
	CU_ASSERT(dc_desc_find(&d, "data") && !strcmp(dc_desc_find(&d, "data")->text, "00 01"));
	n = build(st, reqs[4].rq, f, sizeof(f));
	CU_ASSERT(bms_jbd_describe(f, (size_t)n, &d) == 0);
	CU_ASSERT(dc_desc_find(&d, "save_to_eeprom") &&
		  dc_desc_find(&d, "save_to_eeprom")->num == 0);

	/* acks and refusals carry their status; EEPROM words their value as stored */
	uint8_t none[1] = {0}, w[2];
	static const uint8_t acks[] = {0x00, 0x01, 0xE1};
	for (size_t i = 0; i < sizeof(acks); i++) {
		size_t fn = frame_of(acks[i], 0, none, 0, f);
		CU_ASSERT_FATAL(bms_jbd_describe(f, fn, &d) == 0);
		CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == acks[i]);
		CU_ASSERT(dc_desc_find(&d, "status") && dc_desc_find(&d, "status")->num == 0);
		fn = frame_of(acks[i], 0x80, none, 0, f);
		CU_ASSERT_FATAL(bms_jbd_describe(f, fn, &d) == 0);
		CU_ASSERT(dc_desc_find(&d, "status") && dc_desc_find(&d, "status")->num == 0x80);
	}
	put_u16be(w, (uint16_t)(int16_t)-10000);
	size_t fn = frame_of(0x29, 0, w, 2, f);
	CU_ASSERT_FATAL(bms_jbd_describe(f, fn, &d) == 0);
	CU_ASSERT(d.command == 0x29 && dc_desc_find(&d, "discharge_overcurrent_a") &&
		  fabs(dc_desc_find(&d, "discharge_overcurrent_a")->num + 100.0) < 1e-9);
	put_u16be(w, 4000);
	fn = frame_of(0x28, 0, w, 2, f);
	CU_ASSERT_FATAL(bms_jbd_describe(f, fn, &d) == 0);
	CU_ASSERT(dc_desc_find(&d, "charge_overcurrent_a") &&
		  fabs(dc_desc_find(&d, "charge_overcurrent_a")->num - 40.0) < 1e-9);
	/* not a frame of the protocol */
	f[fn - 2] ^= 1;
	CU_ASSERT(bms_jbd_describe(f, fn, &d) == -1);
}

/* READ: every readable register has its request, and parse decodes its reply. */
static void test_read_kind(void)
{
	uint8_t st[256], req[16], f[300];
	bms_jbd.init(st, 0);
	static const uint8_t regs[] = {0x03, 0x04, 0x05, 0xAA, 0x28, 0x29};
	for (size_t i = 0; i < sizeof(regs); i++) {
		struct bms_request rq = {.kind = BMS_REQ_READ, .reg = regs[i]};
		CU_ASSERT(build(st, rq, req, sizeof(req)) == 7 && req[1] == 0xA5 &&
			  req[2] == regs[i]);
		rq.step = 1;
		CU_ASSERT(build(st, rq, req, sizeof(req)) == 0);
	}
	/* a write's register: a plain read (the decode engine places the ack with it),
	 * never the write itself */
	static const uint8_t acked[] = {0x00, 0x01, 0xE1};
	for (size_t i = 0; i < sizeof(acked); i++) {
		struct bms_request wr = {.kind = BMS_REQ_READ, .reg = acked[i]};
		CU_ASSERT(build(st, wr, req, sizeof(req)) == 7 && req[1] == 0xA5 &&
			  req[2] == acked[i]);
	}
	struct bms_request none = {.kind = BMS_REQ_READ, .reg = 0x16};
	CU_ASSERT(build(st, none, req, sizeof(req)) == -EOPNOTSUPP);
	none.reg = 0x103;
	CU_ASSERT(build(st, none, req, sizeof(req)) == -EOPNOTSUPP);
	/* the captured replies, each read as its own register */
	size_t count;
	const struct vec *v = dc_vectors(&count);
	unsigned parsed = 0;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(v[i].protocol, "jbd") || strcmp(v[i].direction, "response"))
			continue;
		int n = hex_frame(v[i].hex, f, sizeof(f));
		struct bms_request rq = {.kind = BMS_REQ_READ, .reg = f[1]};
		struct bms_snapshot s;
		memset(&s, 0, sizeof(s));
		CU_ASSERT(build(st, rq, req, sizeof(req)) == 7);
		CU_ASSERT(bms_jbd.parse(st, &rq, f, (size_t)n, &s) == 0);
		CU_ASSERT(s.valid != 0);
		/* read as another register: someone else's exchange, untouched */
		rq.reg = f[1] == 0x03 ? 0x04 : 0x03;
		memset(&s, 0, sizeof(s));
		CU_ASSERT(bms_jbd.parse(st, &rq, f, (size_t)n, &s) == BMS_FOREIGN);
		CU_ASSERT(s.valid == 0);
		parsed++;
	}
	CU_ASSERT(parsed == 8);
	/* EEPROM words and acks read as such */
	uint8_t w[2] = {0x0F, 0xA0}; /* 4000 = 40 A */
	size_t fn = frame_of(0x28, 0, w, 2, f);
	struct bms_request rq = {.kind = BMS_REQ_READ, .reg = 0x28};
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT(bms_jbd.parse(st, &rq, f, fn, &s) == 0);
	CU_ASSERT(s.valid == BMS_V_MAX_CHARGE_I && s.max_charge_ma == 40000);
	fn = frame_of(0x00, 0, w, 0, f);
	rq.reg = 0x00;
	CU_ASSERT(bms_jbd.parse(st, &rq, f, fn, &s) == 0);
}

/*
 * Frames of a second master on the line (item 6): its requests, replies to
 * registers we did not ask, our own echo: BMS_FOREIGN, the snapshot
 * untouched, whatever we are waiting for.
 */
static void test_foreign(void)
{
	uint8_t st[256], f[300], other[16];
	bms_jbd.init(st, 0);
	struct bms_request waits[] = {
		{.kind = BMS_REQ_PROBE},
		{.kind = BMS_REQ_POLL, .step = 0, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 1, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 2, .cycle = 1},
		{.kind = BMS_REQ_POLL, .step = 3, .cycle = 1},
		{.kind = BMS_REQ_SET, .command = BMS_CMD_DISCHARGE_FET, .value = 1},
		{.kind = BMS_REQ_SETUP, .step = 1},
	};
	/* another master's requests: every read we have, and a write */
	static const char *const reqs[] = {"dda50300fffd77", "dda50400fffc77", "dda50500fffb77",
					   "dda5aa00ff5677", "dd5ae1020000ff1d77"};
	for (size_t w = 0; w < sizeof(waits) / sizeof(waits[0]); w++) {
		uint8_t mine[16];
		int mn = build(st, waits[w], mine, sizeof(mine));
		CU_ASSERT_FATAL(mn > 0);
		struct bms_snapshot s, zero;
		memset(&s, 0, sizeof(s));
		memset(&zero, 0, sizeof(zero));
		for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
			int n = hex_frame(reqs[i], other, sizeof(other));
			size_t start, flen;
			CU_ASSERT(bms_frame_find(&bms_jbd, other, (size_t)n, &start, &flen) ==
				  BMS_FIND_VALID);
			CU_ASSERT(bms_jbd.parse(st, &waits[w], other, (size_t)n, &s) ==
				  BMS_FOREIGN);
		}
		/* the echo of our own request */
		CU_ASSERT(bms_jbd.parse(st, &waits[w], mine, (size_t)mn, &s) == BMS_FOREIGN);
		/* a reply to a register we did not ask now */
		size_t count;
		const struct vec *v = dc_vectors(&count);
		for (size_t i = 0; i < count; i++) {
			if (strcmp(v[i].protocol, "jbd") || strcmp(v[i].direction, "response"))
				continue;
			int n = hex_frame(v[i].hex, f, sizeof(f));
			if (f[1] == mine[2])
				continue;
			CU_ASSERT(bms_jbd.parse(st, &waits[w], f, (size_t)n, &s) == BMS_FOREIGN);
		}
		CU_ASSERT(memcmp(&s, &zero, sizeof(s)) == 0);
	}
}

/*
 * The frame check takes the SETUP frames (acks, EEPROM words, refusals) and
 * every request, but still no reply of a register we do not know, and the
 * shape checks stay: a flipped register bit is caught wherever a shape can
 * tell (0x01 ack <-> 0x05 model, 0x28 word <-> 0x2A, 0x00 ack <-> 0x04).
 */
static void test_frame_check_setup_frames(void)
{
	uint8_t f[64], none[1] = {0}, w[2] = {0x0F, 0xA0};
	size_t start, flen;
	static const struct {
		uint8_t reg, status, n;
		int want;
	} cases[] = {
		{0x00, 0, 0, BMS_FIND_VALID},      {0x01, 0, 0, BMS_FIND_VALID},
		{0x00, 0x80, 0, BMS_FIND_VALID},   {0x01, 0x80, 0, BMS_FIND_VALID},
		{0x28, 0, 2, BMS_FIND_VALID},      {0x29, 0, 2, BMS_FIND_VALID},
		{0x28, 0x80, 0, BMS_FIND_VALID},   {0x29, 0x80, 0, BMS_FIND_VALID},
		{0x05, 0, 0, BMS_FIND_INVALID},    {0x04, 0, 0, BMS_FIND_INVALID},
		{0x2A, 0, 2, BMS_FIND_INVALID},    {0x28, 0, 0, BMS_FIND_INVALID},
		{0x28, 0, 4, BMS_FIND_INVALID},    {0x00, 0, 2, BMS_FIND_INVALID},
		{0x02, 0, 0, BMS_FIND_INVALID},    {0xE2, 0, 0, BMS_FIND_INVALID},
		{0x16, 0x80, 0, BMS_FIND_INVALID},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t d[4] = {w[0], w[1], 0, 0};
		size_t n = frame_of(cases[i].reg, cases[i].status, cases[i].n ? d : none,
				    cases[i].n, f);
		int got = bms_frame_find(&bms_jbd, f, n, &start, &flen);
		if (got != cases[i].want)
			fprintf(stderr, "case %zu: reg 0x%02X find %d\n", i, cases[i].reg, got);
		CU_ASSERT(got == cases[i].want);
	}
	/* the whole conformance treatment where a shape can tell every flipped bit */
	uint8_t st[256], req[16];
	bms_jbd.init(st, 0);
	for (unsigned step = 0; step < 4; step++) {
		struct bms_request rq = {.kind = BMS_REQ_SETUP, .step = step};
		int n = build(st, rq, req, sizeof(req));
		CU_ASSERT_FATAL(n > 0);
		dc_check_frame(&bms_jbd, req, (size_t)n); /* a request's checksum covers all */
	}
	/* a read request with data is no frame */
	static const uint8_t bad_read[] = {0xDD, 0xA5, 0x03, 0x01, 0x00, 0xFF, 0xFC, 0x77};
	CU_ASSERT(bms_frame_find(&bms_jbd, bad_read, sizeof(bad_read), &start, &flen) !=
		  BMS_FIND_VALID);
}

static const uint8_t enter_req[] = {0xDD, 0x5A, 0x00, 0x02, 0x56, 0x78, 0xFF, 0x30, 0x77};
static const uint8_t read28_req[] = {0xDD, 0xA5, 0x28, 0x00, 0xFF, 0xD8, 0x77};
static const uint8_t read29_req[] = {0xDD, 0xA5, 0x29, 0x00, 0xFF, 0xD7, 0x77};
static const uint8_t leave_req[] = {0xDD, 0x5A, 0x01, 0x02, 0x00, 0x00, 0xFF, 0xFD, 0x77};

/*
 * Run the SETUP sequence against the simulator as the core does (steps in
 * order, no retry, on a failure the cleanup step). Returns 0 or the failing
 * step's error; *steps = requests sent, cleanup included.
 */
static int run_setup(struct bms_snapshot *dev, struct bms_snapshot *got, unsigned *steps,
		     int fail_at)
{
	uint8_t st[256], req[32], rep[64];
	bms_jbd.init(st, 0);
	*steps = 0;
	int r = 0;
	for (unsigned step = 0;; step++) {
		struct bms_request rq = {.kind = BMS_REQ_SETUP, .step = step};
		int n = build(st, rq, req, sizeof(req));
		if (n == 0)
			break;
		CU_ASSERT_FATAL(n > 0);
		(*steps)++;
		int m = (int)step == fail_at ? 0 /* lost on the line */
					     : bms_sim_respond(&bms_jbd, dev, 0, req, (size_t)n,
							       rep, sizeof(rep));
		r = m > 0 ? dc_feed(&bms_jbd, st, &rq, rep, (size_t)m, got) : -ETIMEDOUT;
		if (r != 0)
			break;
	}
	if (r != 0) {
		struct bms_request rq = {.kind = BMS_REQ_SETUP, .step = BMS_STEP_CLEANUP};
		int n = build(st, rq, req, sizeof(req));
		CU_ASSERT_FATAL(n == (int)sizeof(leave_req));
		(*steps)++;
		int m = bms_sim_respond(&bms_jbd, dev, 0, req, (size_t)n, rep, sizeof(rep));
		struct bms_snapshot scratch;
		memset(&scratch, 0, sizeof(scratch));
		CU_ASSERT(m > 0 && dc_feed(&bms_jbd, st, &rq, rep, (size_t)m, &scratch) == 0);
		CU_ASSERT(scratch.valid == 0);
	}
	return r;
}

/*
 * The configured over-current limits (issue item 3): enter factory mode
 * (00 <- 56 78), read 0x28 and 0x29, leave discarding (01 <- 00 00, never
 * 28 28). The limits land in max_charge_ma / max_discharge_ma; the BMS is
 * left in every outcome.
 */
static void test_setup_sequence(void)
{
	uint8_t st[256], req[32];
	bms_jbd.init(st, 0);
	static const struct {
		unsigned step;
		const uint8_t *bytes;
		size_t n;
	} want[] = {
		{0, enter_req, sizeof(enter_req)},
		{1, read28_req, sizeof(read28_req)},
		{2, read29_req, sizeof(read29_req)},
		{3, leave_req, sizeof(leave_req)},
		{BMS_STEP_CLEANUP, leave_req, sizeof(leave_req)},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct bms_request rq = {.kind = BMS_REQ_SETUP, .step = want[i].step};
		int n = build(st, rq, req, sizeof(req));
		CU_ASSERT(n == (int)want[i].n && memcmp(req, want[i].bytes, want[i].n) == 0);
		rq.attempt = 1; /* the same bytes whatever the attempt */
		CU_ASSERT(build(st, rq, req, sizeof(req)) == n);
	}
	struct bms_request end = {.kind = BMS_REQ_SETUP, .step = 4};
	CU_ASSERT(build(st, end, req, sizeof(req)) == 0);

	/* a BMS set to 40 A charge, 100 A discharge (stored -100 A) */
	struct bms_snapshot dev, got;
	memset(&dev, 0, sizeof(dev));
	dev.max_charge_ma = 40000;
	dev.max_discharge_ma = 100000;
	dev.valid = BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I;
	memset(&got, 0, sizeof(got));
	unsigned steps;
	CU_ASSERT(run_setup(&dev, &got, &steps, -1) == 0);
	CU_ASSERT(steps == 4);
	CU_ASSERT(got.valid == (BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I));
	CU_ASSERT(got.max_charge_ma == 40000 && got.max_discharge_ma == 100000);
	CU_ASSERT(!bms_sim_jbd_factory_mode(&dev));

	/* a step lost at any point: the cleanup leaves factory mode */
	for (int fail = 0; fail < 4; fail++) {
		memset(&got, 0, sizeof(got));
		CU_ASSERT(run_setup(&dev, &got, &steps, fail) == -ETIMEDOUT);
		CU_ASSERT(steps == (unsigned)fail + 2);
		CU_ASSERT(!bms_sim_jbd_factory_mode(&dev));
	}
}

/* The device's side: 0x28/0x29 only in factory mode, a wrong key refused. */
static void test_setup_refusals(void)
{
	uint8_t st[256], rep[64];
	struct bms_snapshot dev, got;
	memset(&dev, 0, sizeof(dev));
	dev.max_charge_ma = 40000;
	dev.valid = BMS_V_MAX_CHARGE_I;
	bms_jbd.init(st, 0);
	memset(&got, 0, sizeof(got));
	/* outside factory mode the EEPROM read is refused: -EREMOTEIO, nothing set */
	int m = bms_sim_respond(&bms_jbd, &dev, 0, read28_req, sizeof(read28_req), rep,
				sizeof(rep));
	CU_ASSERT_FATAL(m == 7 && rep[1] == 0x28 && rep[2] == 0x80);
	struct bms_request rq = {.kind = BMS_REQ_SETUP, .step = 1};
	CU_ASSERT(dc_feed(&bms_jbd, st, &rq, rep, (size_t)m, &got) == -EREMOTEIO);
	CU_ASSERT(got.valid == 0);
	/* a wrong key does not enter it, and the refusal fails the step */
	uint8_t wrong[sizeof(enter_req)];
	memcpy(wrong, enter_req, sizeof(wrong));
	wrong[5] = 0x79;
	put_u16be(wrong + 6, (uint16_t)(0x10000u - bms_sum16(wrong + 2, 4)));
	m = bms_sim_respond(&bms_jbd, &dev, 0, wrong, sizeof(wrong), rep, sizeof(rep));
	CU_ASSERT_FATAL(m == 7 && rep[1] == 0x00 && rep[2] == 0x80);
	CU_ASSERT(!bms_sim_jbd_factory_mode(&dev));
	rq.step = 0;
	CU_ASSERT(dc_feed(&bms_jbd, st, &rq, rep, (size_t)m, &got) == -EREMOTEIO);
	/* the acks answer only the step that asked: 0x00 and 0x01 tell apart by what was asked */
	m = bms_sim_respond(&bms_jbd, &dev, 0, enter_req, sizeof(enter_req), rep, sizeof(rep));
	CU_ASSERT_FATAL(m == 7 && rep[2] == 0);
	CU_ASSERT(bms_sim_jbd_factory_mode(&dev));
	rq.step = BMS_STEP_CLEANUP;
	CU_ASSERT(bms_jbd.parse(st, &rq, rep, (size_t)m, &got) == BMS_FOREIGN);
	rq.step = 0;
	CU_ASSERT(bms_jbd.parse(st, &rq, rep, (size_t)m, &got) == 0);
	/* the 0x28 word does not answer the 0x29 read, nor the other way round */
	m = bms_sim_respond(&bms_jbd, &dev, 0, read28_req, sizeof(read28_req), rep, sizeof(rep));
	CU_ASSERT_FATAL(m == 9 && rep[2] == 0);
	rq.step = 2;
	CU_ASSERT(bms_jbd.parse(st, &rq, rep, (size_t)m, &got) == BMS_FOREIGN);
	CU_ASSERT(got.valid == 0);
	m = bms_sim_respond(&bms_jbd, &dev, 0, leave_req, sizeof(leave_req), rep, sizeof(rep));
	CU_ASSERT(m == 7 && !bms_sim_jbd_factory_mode(&dev));
}

/*
 * Which stored words are limits: the magnitude of 1..320 A (a discharge word
 * is negative on common firmware, positive on some); 0 (not configured),
 * below 1 A and above 320 A (0x7FFF, 0x8000: unset EEPROM) are never used.
 */
static void test_oc_limits(void)
{
	static const struct {
		int16_t raw;
		int32_t ma; /* 0: not set */
	} cases[] = {
		{4000, 40000},    {-4000, 40000}, {100, 1000}, {-100, 1000}, {32000, 320000},
		{-32000, 320000}, {0, 0},         {99, 0},     {-99, 0},     {32001, 0},
		{32767, 0},       {-32768, 0},    {-1, 0},
	};
	uint8_t st[256], f[32], w[2];
	bms_jbd.init(st, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (unsigned reg = 0x28; reg <= 0x29; reg++) {
			put_u16be(w, (uint16_t)cases[i].raw);
			size_t n = frame_of((uint8_t)reg, 0, w, 2, f);
			struct bms_request rq = {.kind = BMS_REQ_SETUP, .step = reg - 0x27};
			struct bms_snapshot s;
			memset(&s, 0, sizeof(s));
			CU_ASSERT(bms_jbd.parse(st, &rq, f, n, &s) == 0);
			uint32_t bit = reg == 0x28 ? BMS_V_MAX_CHARGE_I : BMS_V_MAX_DISCHARGE_I;
			int32_t got = reg == 0x28 ? s.max_charge_ma : s.max_discharge_ma;
			if (cases[i].ma) {
				CU_ASSERT(s.valid == bit && got == cases[i].ma);
			} else {
				CU_ASSERT(s.valid == 0 && got == 0);
			}
		}
	}
	/* the simulator's 0 (a state without limits) is therefore no limit either */
	struct bms_snapshot dev, got;
	memset(&dev, 0, sizeof(dev));
	memset(&got, 0, sizeof(got));
	unsigned steps;
	CU_ASSERT(run_setup(&dev, &got, &steps, -1) == 0);
	CU_ASSERT(got.valid == 0 && !bms_sim_jbd_factory_mode(&dev));
}

/*
 * ---- property test (issue item 7) ----
 * Seeded random states through the simulator and back through the decode
 * engine (dc_decode_roundtrip: one poll cycle as one capture, decoded as
 * `serialbattery decode` does), compared field by field.
 */

/* A random state the 0xDD format carries exactly (all quantisation done here). */
static void random_state(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dc_random_cells(s, 32, 2500, 1701);
	s->current_ma = ((int32_t)dc_rnd(60001) - 30000) * 10; /* +-300 A, both directions */
	s->soc_cpct = (uint16_t)(dc_rnd(101) * 100);
	s->capacity_design_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_full_mah = (int32_t)(1 + dc_rnd(60000)) * 10;
	s->capacity_remain_mah = (int32_t)dc_rnd((uint32_t)s->capacity_full_mah / 10 + 1) * 10;
	s->cycles = dc_rnd(65536);
	unsigned ntc = dc_rnd(BMS_MAX_TEMPS + 2); /* 0..9 NTCs */
	s->temp_count = (uint8_t)(ntc > 1 ? ntc - 1 : ntc);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)((int)dc_rnd(801) - 200); /* -20..60 degC */
	if (ntc > 1) {
		s->mosfet_temp_dc = (int16_t)((int)dc_rnd(801) - 200);
		s->valid |= BMS_V_MOSFET_TEMP;
	}
	s->charge_fet = dc_rnd(2);
	s->discharge_fet = dc_rnd(2);
	uint32_t mask = s->cell_count == 32 ? 0xFFFFFFFFu : (1u << s->cell_count) - 1;
	s->balancing = (((uint32_t)dc_rnd(1u << 16) << 16) | dc_rnd(1u << 16)) & mask;
	for (unsigned b = 0; b < sizeof(prot_alarm); b++)
		if (dc_rnd(4) == 0)
			s->alarm[prot_alarm[b]] = 2;
	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u", dc_rnd(16), dc_rnd(16));
	snprintf(s->serial, sizeof(s->serial), "%04u-%02u-%02u", 2000 + dc_rnd(128), 1 + dc_rnd(12),
		 1 + dc_rnd(31));
	snprintf(s->model, sizeof(s->model), "JBD-SP%02uS%03u", s->cell_count, dc_rnd(1000));
	s->cells_reported = s->cell_count;
	s->temps_reported = (uint8_t)ntc;
	for (unsigned i = 0; i < BMS_PROT_COUNT; i++)
		s->prot_events[i] = (uint16_t)(dc_rnd(4) ? 0 : dc_rnd(65536));
	s->valid |= BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_DESIGN | BMS_V_CAP_FULL |
		    BMS_V_CAP_REMAIN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS |
		    BMS_V_BALANCING | BMS_V_ALARMS | BMS_V_SW_VERSION | BMS_V_SERIAL | BMS_V_MODEL |
		    BMS_V_COUNTS | BMS_V_PROT_EVENTS;
}

static void test_property(void)
{
	/* "JBD15": the same states every run */
	CU_ASSERT(dc_check_property(&bms_jbd, 0x4a42443135ull, 600, 0, 1, random_state) == 600);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"sim_roundtrip", test_sim_roundtrip},
		{"balance_order", test_balance_order},
		{"protection_bits", test_protection_bits},
		{"rejects", test_rejects},
		{"model_schedule", test_model_schedule},
		{"mosfet_write", test_mosfet_write},
		{"sim_mosfet_write", test_sim_mosfet_write},
		{"counts", test_counts},
		{"error_counters", test_error_counters},
		{"error_counter_schedule", test_error_counter_schedule},
		{"describe_vectors", test_describe_vectors},
		{"describe_other_frames", test_describe_other_frames},
		{"read_kind", test_read_kind},
		{"foreign", test_foreign},
		{"frame_check_setup_frames", test_frame_check_setup_frames},
		{"setup_sequence", test_setup_sequence},
		{"setup_refusals", test_setup_refusals},
		{"oc_limits", test_oc_limits},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("jbd", tests);
}
