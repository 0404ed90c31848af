/* SPDX-License-Identifier: MIT */
/*
 * Daly A5 driver: captured vectors (each 13-byte frame of the concatenated
 * captures run through), frame check conformance per frame, requests,
 * simulator round trip, multi-frame cell and temperature lists, fault
 * levels, the current sign check; and (issue 15) captures decoded the way
 * `serialbattery decode` does (describe + READ), foreign frames and a second
 * master, whole-or-nothing multi-frame replies, a random-state property test.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/registry.h"
#include "bms/stats.h"
#include "bms/bytes.h"
#include "bms/daly_wire.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tools/decode.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_daly;

#define FRAME 13

struct st_buf {
	_Alignas(16) uint8_t b[512];
	struct bms_request rq; /* the request of the current step */
};

static void fresh(struct st_buf *st, uint8_t board)
{
	CU_ASSERT_FATAL(bms_daly.state_size <= sizeof(st->b));
	memset(st->b, 0, sizeof(st->b));
	memset(&st->rq, 0, sizeof(st->rq));
	CU_ASSERT_FATAL(bms_daly.init(st->b, board) == 0);
}

/*
 * Start the poll step that asks for cmd; 0 when there is one. The step is
 * looked up on a copy of the state, so only that step's request is built on
 * the real one; its descriptor is kept for parse.
 */
static int start_step(struct st_buf *st, uint8_t cmd)
{
	uint8_t req[FRAME];
	struct st_buf probe = *st;
	for (unsigned k = 0; k < 16; k++) {
		struct bms_request rq = {.kind = BMS_REQ_POLL, .step = k, .cycle = 1};
		int n = bms_daly.build_request(probe.b, &rq, req, sizeof(req));
		if (n <= 0)
			return -ENOENT;
		if (req[2] == cmd) {
			st->rq = rq;
			return bms_daly.build_request(st->b, &rq, req, sizeof(req)) == FRAME ? 0
											     : -EIO;
		}
	}
	return -ENOENT;
}

/*
 * Decode a capture of several replies as one cycle would: each 13-byte frame
 * goes to parse; a new command starts the poll step that asks for it;
 * replies to commands the driver does not poll (0x91, 0x92) are skipped.
 */
static int decode_all(const uint8_t *buf, size_t len, struct bms_snapshot *s)
{
	struct st_buf st;
	fresh(&st, 1);
	memset(s, 0, sizeof(*s));
	uint8_t cur = 0;
	int last = 0;
	for (size_t pos = 0; pos + FRAME <= len; pos += FRAME) {
		const uint8_t *f = buf + pos;
		if (!(last == 1 && f[2] == cur)) {
			if (start_step(&st, f[2]) != 0)
				continue;
			cur = f[2];
		}
		last = bms_daly.parse(st.b, &st.rq, f, FRAME, s);
		if (last < 0)
			return last;
	}
	return last;
}

static enum dc_map daly_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			    size_t len, struct dc_value *ret)
{
	struct bms_snapshot full;
	if (len < FRAME)
		return DC_UNKNOWN;
	/* 0x91 (max/min cell) is not polled: the cell list carries it */
	if (len == FRAME && frame[2] == 0x91)
		return DC_SKIP;
	if (len > FRAME) {
		/* a capture of several replies: decode all of it, not just the first */
		CU_ASSERT(decode_all(frame, len, &full) == 0);
		s = &full;
	}
	if (!strcmp(key, "current_raw"))
		return (s->valid & BMS_V_CURRENT) ? dc_num(ret, 30000 - s->current_ma / 100.0)
						  : DC_UNKNOWN;
	if (!strcmp(key, "current_a_offset30000"))
		return (s->valid & BMS_V_CURRENT) ? dc_num(ret, -s->current_ma / 1000.0)
						  : DC_UNKNOWN;
	if (!strcmp(key, "cell_voltages_v_1_to_16") || !strcmp(key, "cell_count_in_0x95"))
		key = !strcmp(key, "cell_count_in_0x95") ? "cell_count" : "cell_voltages_v";
	if (!strcmp(key, "cells_17_to_48")) {
		ret->kind = VEC_STR;
		snprintf(ret->str, sizeof(ret->str), "%s",
			 (s->valid & BMS_V_CELLS) && s->cell_count == 16 ? "all 0.0"
									 : "(more cells)");
		return DC_MAPPED;
	}
	if (!strcmp(key, "cell_delta_mv")) {
		struct bms_stats cs;
		bms_stats_compute(s, &cs);
		return (s->valid & BMS_V_CELLS) ? dc_num(ret, cs.cell_max_mv - cs.cell_min_mv)
						: DC_UNKNOWN;
	}
	if (!strcmp(key, "fault")) {
		unsigned any = 0;
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			any |= s->alarm[a];
		ret->kind = VEC_BOOL;
		ret->num = any != 0;
		return (s->valid & BMS_V_ALARMS) ? DC_MAPPED : DC_UNKNOWN;
	}
	if (!strcmp(key, "balancing")) {
		ret->kind = VEC_BOOL;
		ret->num = s->balancing != 0;
		return (s->valid & BMS_V_BALANCING) ? DC_MAPPED : DC_UNKNOWN;
	}
	/*
	 * 0x94's counts only size the multi-frame replies (checked through the
	 * capture that has 0x94 before 0x95/0x96); the snapshot's counts are the
	 * lists' lengths.
	 */
	if (len == FRAME && frame[2] == 0x94 &&
	    (!strcmp(key, "cell_count") || !strcmp(key, "temp_sensor_count")))
		return DC_SKIP;
	/* protocol details without a snapshot field */
	static const char *const skip[] = {
		"gather_voltage_v", "state", "bms_life", "charger", "load", "frames", NULL};
	if (dc_key_in(key, skip))
		return DC_SKIP;
	if (s == &full)
		return dc_map_common(key, s, frame, len, ret);
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	/* 7 responses; the 0x91 one is a command we do not poll */
	CU_ASSERT(dc_check_vectors(&bms_daly, 1, daly_map) == dc_count(&bms_daly, "response"));
}

/* frame check conformance for every 13-byte frame of every capture. */
static void test_frames(void)
{
	size_t nvec, frames = 0;
	const struct vec *v = dc_vectors(&nvec);
	uint8_t buf[1024];
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].family, "daly") || strcmp(v[i].direction, "response"))
			continue;
		int n = vec_hex(v[i].hex, buf, sizeof(buf));
		CU_ASSERT_FATAL(n > 0 && n % FRAME == 0);
		for (int k = 0; k < n; k += FRAME, frames++)
			dc_check_frame(&bms_daly, buf + k, FRAME);
	}
	CU_ASSERT(frames == 34);
}

static void test_requests(void)
{
	/* we pad with 0xAA (dbus-serialbattery); the zero-padded one is not ours */
	CU_ASSERT(dc_check_requests(&bms_daly, 1) == 1);
	/* ... but a board (the simulator) answers either */
	uint8_t zero[FRAME], rep[FRAME * 2];
	CU_ASSERT_FATAL(vec_hex("a540900800000000000000007d", zero, sizeof(zero)) == FRAME);
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	CU_ASSERT(bms_sim_respond(&bms_daly, &s, 1, zero, FRAME, rep, sizeof(rep)) == FRAME);
	/* board 3 is asked at 0x42 and answers as 0x03 */
	struct st_buf st;
	uint8_t req[FRAME];
	fresh(&st, 3);
	struct bms_request probe = {.kind = BMS_REQ_PROBE};
	CU_ASSERT(bms_daly.build_request(st.b, &probe, req, sizeof(req)) == FRAME);
	CU_ASSERT(req[1] == 0x42 && req[2] == 0x90 && req[12] == bms_sum8(req, 12));
	CU_ASSERT(bms_sim_respond(&bms_daly, &s, 3, req, FRAME, rep, sizeof(rep)) == FRAME);
	CU_ASSERT(rep[1] == 0x03);
	CU_ASSERT(bms_sim_respond(&bms_daly, &s, 1, req, FRAME, rep, sizeof(rep)) == 0);
	CU_ASSERT(bms_daly.init(st.b, 17) == -EINVAL);
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53100;
	s.current_ma = -12300; /* discharging */
	s.soc_cpct = 8760;
	s.capacity_remain_mah = 87654;
	s.capacity_full_mah = s.capacity_design_mah = 100000;
	s.cycles = 300;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3300 + i);
	s.balancing = (1u << 0) | (1u << 9);
	s.temp_count = 8; /* two 0x96 frames */
	for (unsigned i = 0; i < 8; i++)
		s.temp_dc[i] = (int16_t)(-100 + 50 * (int)i);
	s.charge_fet = true;
	s.discharge_fet = true;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 1;
	s.alarm[BMS_ALARM_LOW_TEMPERATURE] = 2;
	s.alarm[BMS_ALARM_INTERNAL_FAILURE] = 2;
	s.alarm[BMS_ALARM_HIGH_CURRENT] = 2;
	s.alarm[BMS_ALARM_LOW_SOC] = 1;
	s.valid = BMS_V_ALARMS | BMS_V_CAP_DESIGN;
	return s;
}

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	const uint32_t all = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN |
			     BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS |
			     BMS_V_TEMPS | BMS_V_FETS | BMS_V_BALANCING | BMS_V_ALARMS;
	dc_check_sim_roundtrip(&bms_daly, 1, &s, all);
	dc_check_alarm_mask(&bms_daly, 1, &s);
	/* charging, 14 cells (a part-filled last frame), board 16 of 16 */
	s.current_ma = 45600;
	s.cell_count = 14;
	s.temp_count = 1;
	s.charge_fet = false;
	dc_check_sim_roundtrip(&bms_daly, 16, &s, all);
}

static void frame_of(uint8_t cmd, const uint8_t d[8], uint8_t *out)
{
	out[0] = 0xA5;
	out[1] = 0x01;
	out[2] = cmd;
	out[3] = 0x08;
	memcpy(out + 4, d, 8);
	out[12] = bms_sum8(out, 12);
}

static void daly_put(uint8_t addr, uint8_t cmd, const uint8_t d[8], uint8_t *out)
{
	daly_put_frame(addr, cmd, d, out);
}

static void cell_frame(uint8_t no, uint16_t a, uint16_t b, uint16_t c, uint8_t *out)
{
	uint8_t d[8] = {no, 0, 0, 0, 0, 0, 0, 0};
	put_u16be(d + 1, a);
	put_u16be(d + 3, b);
	put_u16be(d + 5, c);
	frame_of(0x95, d, out);
}

static void status_frame(uint8_t cells, uint8_t temps, uint8_t *out)
{
	uint8_t d[8] = {cells, temps, 0, 0, 0, 0x01, 0x02, 0x40};
	frame_of(0x94, d, out);
}

/* Multi-frame cell list: counts from 0x94, frame order, 16-frame firmware. */
static void test_cell_frames(void)
{
	struct st_buf st;
	struct bms_snapshot s;
	uint8_t f[FRAME];
	fresh(&st, 1);
	memset(&s, 0, sizeof(s));

	/* 0x94: 7 cells, 2 sensors; cycles from bytes 5-6 (0x0102), not byte 7 */
	CU_ASSERT_FATAL(start_step(&st, 0x94) == 0);
	status_frame(7, 2, f);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
	CU_ASSERT(s.cycles == 0x0102);

	/* 7 cells = 3 frames, in order */
	CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
	cell_frame(1, 3301, 3302, 3303, f);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 1);
	cell_frame(2, 3304, 3305, 3306, f);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 1);
	CU_ASSERT(!(s.valid & BMS_V_CELLS)); /* nothing committed before the last frame */
	cell_frame(3, 3307, 0, 0, f);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
	CU_ASSERT(s.cell_count == 7 && s.cell_mv[0] == 3301 && s.cell_mv[6] == 3307);

	/* out of order, missing and repeated frame numbers reject the reply */
	static const uint8_t bad[][2] = {{2, 0}, {1, 3}, {1, 1}, {0, 0}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
		cell_frame(bad[i][0], 3300, 3300, 3300, f);
		int r = bms_daly.parse(st.b, &st.rq, f, FRAME, &s);
		if (bad[i][1]) {
			CU_ASSERT(r == 1);
			cell_frame(bad[i][1], 3300, 3300, 3300, f);
			r = bms_daly.parse(st.b, &st.rq, f, FRAME, &s);
		}
		CU_ASSERT(r == -EPROTO);
	}

	/* firmware that sends 16 frames: the surplus is skipped (it answers no
	 * request of the 0x96 step) and remembered */
	CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
	for (uint8_t k = 1; k <= 3; k++) {
		cell_frame(k, 3310, 3310, 3310, f);
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == (k < 3 ? 1 : 0));
	}
	CU_ASSERT_FATAL(start_step(&st, 0x96) == 0);
	cell_frame(4, 0, 0, 0, f);
	struct bms_snapshot before = s;
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == BMS_FOREIGN);
	CU_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);
	/* next time the cell step waits for all 16 */
	CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
	memset(&s, 0, sizeof(s));
	for (uint8_t k = 1; k <= 16; k++) {
		cell_frame(k, k <= 3 ? 3320 : 0, k <= 2 ? 3321 : 0, k <= 2 ? 3322 : 0, f);
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == (k < 16 ? 1 : 0));
	}
	CU_ASSERT(s.cell_count == 7 && s.cell_mv[6] == 3320);

	/* the temperature list: 2 sensors in one frame, degC + 40 */
	CU_ASSERT_FATAL(start_step(&st, 0x96) == 0);
	uint8_t d[8] = {1, 0, 65, 0, 0, 0xFF, 0xFF, 0xFF};
	frame_of(0x96, d, f);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == -400 && s.temp_dc[1] == 250);
}

/* Without a 0x94 the cell step collects all 16 frames and trims the zero tail. */
static void test_cell_frames_unknown_count(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	uint8_t buf[1024];
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].family, "daly") || !vec_get(&v[i], "frames"))
			continue;
		int n = vec_hex(v[i].hex, buf, sizeof(buf));
		CU_ASSERT_FATAL(n == 16 * FRAME);
		struct st_buf st;
		struct bms_snapshot s;
		fresh(&st, 1);
		memset(&s, 0, sizeof(s));
		CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
		for (int k = 0; k < 16; k++)
			CU_ASSERT(bms_daly.parse(st.b, &st.rq, buf + k * FRAME, FRAME, &s) ==
				  (k < 15 ? 1 : 0));
		CU_ASSERT(s.cell_count == 16 && s.cell_mv[15] == 3324);
		/* the same capture with frame 9 missing is refused */
		fresh(&st, 1);
		CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
		int r = 0;
		for (int k = 0; k < 16 && r >= 0; k++)
			if (k != 8)
				r = bms_daly.parse(st.b, &st.rq, buf + k * FRAME, FRAME, &s);
		CU_ASSERT(r == -EPROTO);
		return;
	}
	CU_FAIL("no 16-frame capture");
}

/* 0x98: level-1 bits are warnings, level-2 alarms; single fault bits are alarms. */
static void test_faults(void)
{
	struct st_buf st;
	struct bms_snapshot s;
	uint8_t f[FRAME];
	fresh(&st, 1);
	memset(&s, 0, sizeof(s));
	uint8_t d[8] = {0x01 | 0x08, 0x20, 0x40, 0x00, 0x01, 0x00, 0x04, 0x77};
	frame_of(0x98, d, f);
	CU_ASSERT_FATAL(start_step(&st, 0x98) == 0);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
	CU_ASSERT(s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] == 1);
	CU_ASSERT(s.alarm[BMS_ALARM_LOW_CELL_VOLTAGE] == 2);
	CU_ASSERT(s.alarm[BMS_ALARM_HIGH_TEMPERATURE] == 2);
	CU_ASSERT(s.alarm[BMS_ALARM_LOW_SOC] == 1);
	CU_ASSERT(s.alarm[BMS_ALARM_HIGH_INTERNAL_TEMPERATURE] == 2);
	CU_ASSERT(s.alarm[BMS_ALARM_HIGH_CURRENT] == 2);
	CU_ASSERT(s.alarm[BMS_ALARM_INTERNAL_FAILURE] == 0); /* byte 7 fault code: not mapped */
	CU_ASSERT(s.alarm[BMS_ALARM_HIGH_VOLTAGE] == 0);

	/* balancing: bit 0 of data byte 0 = cell 1 */
	uint8_t b[8] = {0x05, 0x00, 0x80, 0, 0, 0, 0, 0};
	frame_of(0x97, b, f);
	CU_ASSERT_FATAL(start_step(&st, 0x97) == 0);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
	CU_ASSERT(s.balancing == ((1u << 0) | (1u << 2) | (1u << 23)));
}

/* Run 0x90 then 0x93 of one cycle with a raw current and a stated direction. */
static int32_t cycle_current(struct st_buf *st, uint16_t raw, uint8_t dir)
{
	struct bms_snapshot s;
	uint8_t f[FRAME];
	memset(&s, 0, sizeof(s));
	uint8_t a[8] = {0x02, 0x12, 0, 0, 0, 0, 0x02, 0x00};
	put_u16be(a + 4, raw);
	CU_ASSERT_FATAL(start_step(st, 0x90) == 0);
	frame_of(0x90, a, f);
	CU_ASSERT(bms_daly.parse(st->b, &st->rq, f, FRAME, &s) == 0);
	uint8_t b[8] = {dir, 1, 1, 0, 0, 0, 0x10, 0x00};
	CU_ASSERT_FATAL(start_step(st, 0x93) == 0);
	frame_of(0x93, b, f);
	CU_ASSERT(bms_daly.parse(st->b, &st->rq, f, FRAME, &s) == 0);
	return s.current_ma;
}

/* Default: raw < 30000 is charging; the 0x93 direction flips it after 3 cycles. */
static void test_current_sign(void)
{
	struct st_buf st;
	fresh(&st, 1);
	CU_ASSERT(cycle_current(&st, 29900, 1) == 10000);  /* agrees: charging 10 A */
	CU_ASSERT(cycle_current(&st, 30100, 2) == -10000); /* agrees: discharging */
	CU_ASSERT(cycle_current(&st, 30005, 1) == -500);   /* under 1 A: no vote */
	CU_ASSERT(cycle_current(&st, 30005, 1) == -500);
	CU_ASSERT(cycle_current(&st, 30005, 1) == -500);
	/* a firmware counting the other way: charging with raw > 30000 */
	CU_ASSERT(cycle_current(&st, 30200, 1) == -20000);
	CU_ASSERT(cycle_current(&st, 30200, 1) == -20000);
	CU_ASSERT(cycle_current(&st, 30200, 1) == 20000);  /* third vote flips this cycle */
	CU_ASSERT(cycle_current(&st, 29800, 2) == -20000); /* and stays flipped */
	CU_ASSERT(cycle_current(&st, 30000, 0) == 0);
	/* a single contradicting glitch does not flip it back */
	CU_ASSERT(cycle_current(&st, 29800, 1) == -20000);
	CU_ASSERT(cycle_current(&st, 29800, 2) == -20000);
	CU_ASSERT(cycle_current(&st, 29800, 2) == -20000);
}

/* Another board's reply or an echo of our request is not an answer: foreign, skipped. */
static void test_address(void)
{
	struct st_buf st;
	struct bms_snapshot s;
	uint8_t req[FRAME], f[FRAME];
	fresh(&st, 2);
	memset(&s, 0, sizeof(s));
	st.rq = (struct bms_request){.kind = BMS_REQ_POLL, .cycle = 1};
	CU_ASSERT(bms_daly.build_request(st.b, &st.rq, req, sizeof(req)) == FRAME);
	CU_ASSERT(req[1] == 0x41);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, req, FRAME, &s) == BMS_FOREIGN); /* echo */
	uint8_t d[8] = {0x02, 0x12, 0, 0, 0x75, 0x30, 0x02, 0x00};
	frame_of(0x90, d, f); /* from board 1 */
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == BMS_FOREIGN);
	CU_ASSERT(s.valid == 0);
	f[1] = 0x02;
	f[12] = bms_sum8(f, 12);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
	CU_ASSERT(s.voltage_mv == 53000 && s.current_ma == 0 && s.soc_cpct == 5120);
	f[12] ^= 1;
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == -EBADMSG);
}

/* 0x50 rated capacity: first cycle, then every 64th while missing; kept by the core. */
static void test_rated_schedule(void)
{
	struct st_buf st;
	uint8_t req[FRAME], rep[FRAME];
	struct bms_snapshot want;
	struct bms_held held;
	memset(&want, 0, sizeof(want));
	want.capacity_design_mah = 280000;
	fresh(&st, 1);
	bms_held_reset(&held);
	for (unsigned cycle = 1; cycle <= 130; cycle++) {
		struct bms_snapshot s;
		memset(&s, 0, sizeof(s));
		bool asked = false;
		struct bms_request rq = {.kind = BMS_REQ_POLL, .cycle = bms_held_next_cycle(&held)};
		for (rq.step = 0;; rq.step++) {
			if (!bms_step_due(&bms_daly, rq.step, &held))
				continue;
			int n = bms_daly.build_request(st.b, &rq, req, sizeof(req));
			if (n == 0)
				break;
			if (req[2] != 0x50)
				continue;
			asked = true;
			if (cycle == 64) {
				CU_ASSERT(bms_sim_respond(&bms_daly, &want, 1, req, FRAME, rep,
							  FRAME) == FRAME);
				CU_ASSERT(dc_feed(&bms_daly, st.b, &rq, rep, FRAME, &s) == 0);
				bms_held_keep(&bms_daly, rq.step, &held, &s);
			}
		}
		CU_ASSERT(asked == (cycle == 1 || cycle == 64));
		bms_held_apply(&held, &s);
		CU_ASSERT(!!(s.valid & BMS_V_CAP_DESIGN) == (cycle >= 64));
		if (cycle >= 64)
			CU_ASSERT(s.capacity_design_mah == 280000 && s.capacity_full_mah == 280000);
	}
}

/* ---- captures decoded as `serialbattery decode` does (issue 15) ---- */

#define CAP_FRAMES 64
static struct bms_frame_desc cap_desc[CAP_FRAMES]; /* the last pass's descriptions */

struct cap {
	struct bms_snapshot snap;
	unsigned frames, requests, replies, refused, foreign, open_at_end;
};

/*
 * The decode contract of bms/bms.h: every frame bms_frame_find finds is
 * described; a request is nobody's answer (parse says foreign); a reply
 * opens a READ of its command (build_request resets the reply, then parse),
 * and the frames after it go to the same READ while parse returns 1. The
 * driver state lives across the whole capture, which is decoded twice: the
 * first pass silent (it learns 0x94's counts), the second one reported.
 */
static void capture_decode(const uint8_t *buf, size_t len, struct cap *c)
{
	struct st_buf st;
	fresh(&st, 1);
	for (int pass = 0; pass < 2; pass++) {
		memset(c, 0, sizeof(*c));
		struct bms_request rq = {.kind = BMS_REQ_READ};
		unsigned open = 0;
		size_t pos = 0, start = 0, flen = 0;
		while (pos < len && bms_frame_find(&bms_daly, buf + pos, len - pos, &start,
						   &flen) == BMS_FIND_VALID) {
			const uint8_t *f = buf + pos + start;
			pos += start + flen;
			struct bms_frame_desc *d = &cap_desc[c->frames % CAP_FRAMES];
			c->frames++;
			if (bms_daly_describe(f, flen, d) != 0) {
				c->refused++;
				continue;
			}
			if (d->dir == BMS_DIR_REQUEST) {
				c->requests++;
				CU_ASSERT(bms_daly.parse(st.b, &rq, f, flen, &c->snap) ==
					  BMS_FOREIGN);
				continue;
			}
			c->replies++;
			if (open != d->command) {
				uint8_t req[FRAME];
				rq = (struct bms_request){.kind = BMS_REQ_READ, .reg = d->command};
				if (bms_daly.build_request(st.b, &rq, req, sizeof(req)) != FRAME) {
					c->refused++;
					open = 0;
					continue;
				}
			}
			int r = bms_daly.parse(st.b, &rq, f, flen, &c->snap);
			open = r == 1 ? d->command : 0;
			if (r < 0)
				c->refused++;
			if (r == BMS_FOREIGN)
				c->foreign++;
		}
		c->open_at_end = open != 0;
	}
}

static unsigned engine_decode(const uint8_t *buf, size_t len, struct bms_snapshot *got);

/* The last item named key in the capture's descriptions, or NULL. */
static const struct bms_desc_item *cap_item(const struct cap *c, const char *key)
{
	const struct bms_desc_item *it = NULL;
	for (unsigned f = 0; f < c->frames && f < CAP_FRAMES; f++)
		for (unsigned k = 0; k < cap_desc[f].n; k++)
			if (!strcmp(cap_desc[f].items[k].key, key))
				it = &cap_desc[f].items[k];
	return it;
}

/* A vectors key as the decode output shows it: a frame's item, else the snapshot. */
static bool cap_value(const struct cap *c, const char *key, struct dc_value *v)
{
	memset(v, 0, sizeof(*v));
	if (!strcmp(key, "command")) {
		v->kind = VEC_NUM;
		v->num = cap_desc[0].command;
		return true;
	}
	if (!strcmp(key, "frames")) {
		unsigned n = 0;
		for (unsigned f = 0; f < c->frames && f < CAP_FRAMES; f++)
			n += cap_desc[f].command == 0x95;
		v->kind = VEC_NUM;
		v->num = n;
		return true;
	}
	if (!strcmp(key, "cells_17_to_48")) {
		/* the items of the cells past 16: every one there and 0 V */
		unsigned zero = 0;
		char k[BMS_DESC_KEY];
		for (unsigned n = 17; n <= 48; n++) {
			snprintf(k, sizeof(k), "cell%u_v", n);
			const struct bms_desc_item *it = cap_item(c, k);
			zero += it && it->num == 0;
		}
		v->kind = VEC_STR;
		snprintf(v->str, sizeof(v->str), "%s", zero == 32 ? "all 0.0" : "(not all 0)");
		return true;
	}
	const struct bms_desc_item *it = cap_item(c, key);
	if (it) {
		v->kind = it->is_text ? VEC_STR : VEC_NUM;
		v->num = it->num;
		snprintf(v->str, sizeof(v->str), "%s", it->text);
		return true;
	}
	const struct bms_snapshot *s = &c->snap;
	if (!strcmp(key, "cell_voltages_v_1_to_16"))
		key = "cell_voltages_v";
	if (!strcmp(key, "cell_count_in_0x95"))
		key = "cell_count";
	/* 0x94's counts: the stated ones where no list came with them */
	if ((!strcmp(key, "cell_count") && !(s->valid & BMS_V_CELLS)) ||
	    (!strcmp(key, "temp_sensor_count") && !(s->valid & BMS_V_TEMPS))) {
		v->kind = VEC_NUM;
		v->num = key[0] == 'c' ? s->cells_reported : s->temps_reported;
		return (s->valid & BMS_V_COUNTS) != 0;
	}
	if (!strcmp(key, "balancing")) {
		v->kind = VEC_BOOL;
		v->num = s->balancing != 0;
		return (s->valid & BMS_V_BALANCING) != 0;
	}
	return dc_map_common(key, s, NULL, 0, v) == DC_MAPPED && v->kind != VEC_OTHER;
}

static unsigned values_checked;

static void check_value(const struct vec *vv, const struct vec_expect *e, const struct cap *c)
{
	struct dc_value got;
	if (!cap_value(c, e->key, &got)) {
		printf("\n    %s: key %s not in the decode output\n", vv->hex, e->key);
		CU_FAIL("vector key not decoded");
		return;
	}
	bool ok = false;
	switch (e->kind) {
	case VEC_NUM:
	case VEC_BOOL:
		ok = (got.kind == VEC_NUM || got.kind == VEC_BOOL) &&
		     fabs(got.num - e->num) <= 0.001;
		break;
	case VEC_STR:
		ok = got.kind == VEC_STR && !strcmp(got.str, e->str);
		break;
	case VEC_ARRAY:
		ok = got.kind == VEC_ARRAY && got.n == e->n;
		for (unsigned k = 0; ok && k < e->n; k++)
			ok = fabs(got.arr[k] - e->arr[k]) <= 0.001;
		break;
	default:
		break;
	}
	if (!ok) {
		printf("\n    key %s: got %.4f '%s' (n %u)\n", e->key, got.num, got.str, got.n);
		CU_FAIL("vector value differs");
	}
	values_checked++;
}

/*
 * Every Daly vector, request and reply, whole captures included: each frame
 * is described (direction, command, address), decodes with no refusal, and
 * every expected value is in the output under its key.
 */
static void test_capture_vectors(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	static uint8_t buf[1024];
	unsigned vectors = 0, frames = 0, decoded = 0;
	values_checked = 0;
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].family, "daly"))
			continue;
		int n = vec_hex(v[i].hex, buf, sizeof(buf));
		CU_ASSERT_FATAL(n > 0 && n % FRAME == 0);
		struct cap c;
		capture_decode(buf, (size_t)n, &c);
		vectors++;
		frames += (unsigned)n / FRAME;
		CU_ASSERT(c.frames == (unsigned)n / FRAME);
		CU_ASSERT(c.refused == 0 && c.open_at_end == 0);
		bool req = !strcmp(v[i].direction, "request");
		CU_ASSERT(c.requests == (req ? c.frames : 0));
		for (unsigned f = 0; f < c.frames && f < CAP_FRAMES; f++) {
			const uint8_t *p = buf + f * FRAME;
			CU_ASSERT(cap_desc[f].command == p[2]);
			CU_ASSERT(cap_desc[f].dir == (req ? BMS_DIR_REQUEST : BMS_DIR_REPLY));
			CU_ASSERT(cap_desc[f].address == 1);
			CU_ASSERT(cap_desc[f].name[0] != '\0');
		}
		decoded += c.frames - c.refused;
		for (unsigned k = 0; k < v[i].nexpect; k++)
			check_value(&v[i], &v[i].expect[k], &c);
	}
	CU_ASSERT(vectors == 9 && frames == 36 && decoded == 36);
	printf("\n    daly: %u vectors, %u frames, %u decoded, %u values checked\n", vectors,
	       frames, decoded, values_checked);
}

/* The live R24TS poll in one piece: every value, 0x96 padded with 00 and FF. */
static void test_capture_r24ts(void)
{
	static const char hex[] =
		"a50190080212000075300200f9a50191080ed2020ece010000fea50192083801380100000000b2"
		"a5019308000101ed0000a000d0a50194080e0200000000003a8ca5019508010ece0ed20ed100df"
		"a5019508020ecf0ed10ed100e0a5019508030ed10ed10ed200e4a5019508040ed20ed20ecf00e4"
		"a5019508050ed10ecf00000004a50196080138380000ffffffb2a5019708000000000000000045"
		"a5019808000000000000000046";
	static uint8_t buf[256];
	int n = vec_hex(hex, buf, sizeof(buf));
	CU_ASSERT_FATAL(n == 13 * FRAME);
	struct cap c;
	capture_decode(buf, (size_t)n, &c);
	const struct bms_snapshot *s = &c.snap;
	CU_ASSERT(c.refused == 0 && c.replies == 13);
	CU_ASSERT(s->voltage_mv == 53000 && s->current_ma == 0 && s->soc_cpct == 5120);
	CU_ASSERT(s->capacity_remain_mah == 40960 && s->charge_fet && s->discharge_fet);
	CU_ASSERT((s->valid & BMS_V_COUNTS) && s->cells_reported == 14 && s->temps_reported == 2);
	CU_ASSERT(s->cell_count == 14 && s->cell_mv[0] == 0x0ece && s->cell_mv[13] == 0x0ecf);
	CU_ASSERT(s->temp_count == 2 && s->temp_dc[0] == 160 && s->temp_dc[1] == 160);
	CU_ASSERT((s->valid & BMS_V_ALARMS) && (s->valid & BMS_V_BALANCING) && s->balancing == 0);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
		CU_ASSERT(s->alarm[a] == 0);
	/* 0x91 and 0x92 decode (items only) */
	const struct bms_desc_item *it = cap_item(&c, "max_temp_c");
	CU_ASSERT(it && it->num == 16);
	it = cap_item(&c, "min_cell_no");
	CU_ASSERT(it && it->num == 1);
	it = cap_item(&c, "temp2_c");
	CU_ASSERT(it && it->num == 16);
	CU_ASSERT(cap_item(&c, "temp3_c") == NULL); /* the 00 padding is no sensor */
}

static void temp_frame(uint8_t no, const uint8_t t[7], uint8_t *out)
{
	uint8_t d[8] = {no};
	memcpy(d + 1, t, 7);
	frame_of(0x96, d, out);
}

/* READ of one command: build, then frames until parse is done (0) or fails. */
static int read_frames(struct st_buf *st, uint8_t cmd, const uint8_t *frames, size_t n,
		       struct bms_snapshot *s)
{
	uint8_t req[FRAME];
	st->rq = (struct bms_request){.kind = BMS_REQ_READ, .reg = cmd};
	if (bms_daly.build_request(st->b, &st->rq, req, sizeof(req)) != FRAME)
		return -EIO;
	int r = -ENODATA;
	for (size_t k = 0; k < n; k++) {
		r = bms_daly.parse(st->b, &st->rq, frames + k * FRAME, FRAME, s);
		if (r != 1)
			return r;
	}
	return r;
}

/* 0x96: the sensor count from 0x94 bounds it; unused bytes 00 or FF; no count: inferred. */
static void test_temp_padding(void)
{
	static const uint8_t pad00[7] = {0x38, 0x38, 0x00, 0x00, 0xFF, 0xFF, 0xFF};
	static const uint8_t padff[7] = {0x38, 0x39, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	static const uint8_t full[7] = {41, 42, 43, 44, 45, 46, 47};
	static const uint8_t one[7] = {30, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	struct st_buf st;
	struct bms_snapshot s;
	uint8_t f[2 * FRAME];

	/* alone (no 0x94): the sensors end at the first 00 or FF */
	fresh(&st, 1);
	memset(&s, 0, sizeof(s));
	temp_frame(1, pad00, f);
	CU_ASSERT(read_frames(&st, 0x96, f, 1, &s) == 0);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 160 && s.temp_dc[1] == 160);
	temp_frame(1, padff, f);
	CU_ASSERT(read_frames(&st, 0x96, f, 1, &s) == 0);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[1] == 170);
	/* seven sensors fill the frame: the next one belongs to the reply */
	temp_frame(1, full, f);
	temp_frame(2, one, f + FRAME);
	CU_ASSERT(read_frames(&st, 0x96, f, 2, &s) == 0);
	CU_ASSERT(s.temp_count == 8 && s.temp_dc[0] == 10 && s.temp_dc[7] == -100);

	/* with 0x94's count (2): both paddings ignored; the count decides */
	uint8_t st94[FRAME];
	status_frame(4, 2, st94);
	CU_ASSERT(read_frames(&st, 0x94, st94, 1, &s) == 0);
	CU_ASSERT(s.temps_reported == 2 && s.cells_reported == 4 && (s.valid & BMS_V_COUNTS));
	temp_frame(1, pad00, f);
	CU_ASSERT(read_frames(&st, 0x96, f, 1, &s) == 0);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[0] == 160);
	temp_frame(1, padff, f);
	CU_ASSERT(read_frames(&st, 0x96, f, 1, &s) == 0);
	CU_ASSERT(s.temp_count == 2 && s.temp_dc[1] == 170);
	/* a count of 1: the second sensor byte is not read */
	status_frame(4, 1, st94);
	CU_ASSERT(read_frames(&st, 0x94, st94, 1, &s) == 0);
	temp_frame(1, full, f);
	CU_ASSERT(read_frames(&st, 0x96, f, 1, &s) == 0);
	CU_ASSERT(s.temp_count == 1 && s.temp_dc[0] == 10);
}

/* A broken 0x95/0x96 sequence leaves the snapshot as it was: poll and READ. */
static void test_broken_sequence(void)
{
	struct st_buf st;
	struct bms_snapshot s, before;
	uint8_t f[4 * FRAME], st94[FRAME];
	static const uint8_t full[7] = {41, 42, 43, 44, 45, 46, 47};
	static const uint8_t one[7] = {30, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

	for (int mode = 0; mode < 2; mode++) { /* 0: worker's poll steps, 1: READ */
		fresh(&st, 1);
		memset(&s, 0, sizeof(s));
		s.temp_count = 1;
		s.temp_dc[0] = 250;
		s.cell_count = 1;
		s.cell_mv[0] = 3000;
		s.valid = BMS_V_TEMPS | BMS_V_CELLS;
		status_frame(7, 8, st94); /* 7 cells = 3 frames, 8 sensors = 2 frames */
		if (mode == 0) {
			CU_ASSERT_FATAL(start_step(&st, 0x94) == 0);
			CU_ASSERT(bms_daly.parse(st.b, &st.rq, st94, FRAME, &s) == 0);
		} else {
			CU_ASSERT(read_frames(&st, 0x94, st94, 1, &s) == 0);
		}
		before = s;

		/* temperatures: frame 1 twice, then frame 2 after the gap */
		temp_frame(1, full, f);
		temp_frame(1, full, f + FRAME);
		temp_frame(2, one, f + 2 * FRAME);
		int r;
		if (mode == 0) {
			CU_ASSERT_FATAL(start_step(&st, 0x96) == 0);
			CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 1);
			r = bms_daly.parse(st.b, &st.rq, f + FRAME, FRAME, &s);
		} else {
			r = read_frames(&st, 0x96, f, 2, &s);
		}
		CU_ASSERT(r == -EPROTO);
		/* nor does the rest of the broken reply complete it */
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f + 2 * FRAME, FRAME, &s) == -EPROTO);
		CU_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);

		/* cells: 1, 2, then 4 (a gap) */
		cell_frame(1, 3301, 3302, 3303, f);
		cell_frame(2, 3304, 3305, 3306, f + FRAME);
		cell_frame(4, 3307, 0, 0, f + 2 * FRAME);
		cell_frame(3, 3307, 0, 0, f + 3 * FRAME);
		if (mode == 0) {
			CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
			CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 1);
			CU_ASSERT(bms_daly.parse(st.b, &st.rq, f + FRAME, FRAME, &s) == 1);
			r = bms_daly.parse(st.b, &st.rq, f + 2 * FRAME, FRAME, &s);
		} else {
			r = read_frames(&st, 0x95, f, 3, &s);
		}
		CU_ASSERT(r == -EPROTO);
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f + 3 * FRAME, FRAME, &s) == -EPROTO);
		CU_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);
	}
}

/* 16-frame firmware through READ: alone (count from the zero tail) and after 0x94. */
static void test_read_16_frames(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	static uint8_t buf[FRAME * 17];
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].family, "daly") || !vec_get(&v[i], "frames"))
			continue;
		CU_ASSERT_FATAL(vec_hex(v[i].hex, buf + FRAME, sizeof(buf) - FRAME) == 16 * FRAME);
		struct st_buf st;
		struct bms_snapshot s;
		fresh(&st, 1);
		memset(&s, 0, sizeof(s));
		CU_ASSERT(read_frames(&st, 0x95, buf + FRAME, 16, &s) == 0);
		CU_ASSERT(s.cell_count == 16 && s.cell_mv[0] == 3325 && s.cell_mv[15] == 3324);
		/* with the mpp-solar 0x94 (16 cells) ahead of it, as one capture */
		CU_ASSERT_FATAL(vec_hex("a5019408100100000000034096", buf, FRAME) == FRAME);
		struct cap c;
		capture_decode(buf, sizeof(buf), &c);
		CU_ASSERT(c.refused == 0 && c.replies == 17);
		CU_ASSERT(c.snap.cell_count == 16 && c.snap.cell_mv[15] == 3324);
		CU_ASSERT(c.snap.cells_reported == 16 && c.snap.cycles == 3);
		struct bms_snapshot got;
		CU_ASSERT(engine_decode(buf, sizeof(buf), &got) == 0);
		CU_ASSERT(got.cell_count == 16 && got.cell_mv[15] == 3324);

		/* a surplus frame alone, after the count is known: filler, nothing applied */
		struct bms_snapshot before = s;
		CU_ASSERT(read_frames(&st, 0x94, buf, 1, &s) == 0);
		before = s;
		CU_ASSERT(read_frames(&st, 0x95, buf + 8 * FRAME, 1, &s) == 0);
		CU_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);
		/* ... but a non-zero frame out of its place is a broken sequence */
		uint8_t f[FRAME];
		cell_frame(9, 3300, 0, 0, f);
		CU_ASSERT(read_frames(&st, 0x95, f, 1, &s) == -EPROTO);

		/* then another board's firmware in the same capture: 14 cells in 5 frames */
		static uint8_t two[sizeof(buf) + 6 * FRAME];
		memcpy(two, buf, sizeof(buf));
		uint8_t *p = two + sizeof(buf);
		status_frame(14, 2, p);
		for (uint8_t k = 1; k <= 5; k++)
			cell_frame(k, 3400, 3401, k < 5 ? 3402 : 0, p + k * FRAME);
		capture_decode(two, sizeof(two), &c);
		CU_ASSERT(c.refused == 0 && c.open_at_end == 0);
		CU_ASSERT(c.snap.cell_count == 14 && c.snap.cell_mv[13] == 3401);
		CU_ASSERT(engine_decode(two, sizeof(two), &got) == 0);
		CU_ASSERT(got.cell_count == 14 && got.cell_mv[13] == 3401);
		return;
	}
	CU_FAIL("no 16-frame capture");
}

/* Every read command through READ against the simulator; writes are not READ. */
static void test_read_commands(void)
{
	static const uint8_t cmds[] = {0x90, 0x91, 0x92, 0x93, 0x94, 0x95,
				       0x96, 0x97, 0x98, 0x50, 0x53, 0x57};
	static const uint32_t fills[] = {BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC,
					 0,
					 0,
					 BMS_V_FETS | BMS_V_CAP_REMAIN,
					 BMS_V_CYCLES | BMS_V_COUNTS,
					 BMS_V_CELLS,
					 BMS_V_TEMPS,
					 BMS_V_BALANCING,
					 BMS_V_ALARMS,
					 BMS_V_CAP_DESIGN | BMS_V_CAP_FULL,
					 0,
					 0};
	struct bms_snapshot dev = sample_state();
	snprintf(dev.serial, sizeof(dev.serial), "DL-2021-000123-ABC");
	struct st_buf st;
	uint8_t req[FRAME];
	static uint8_t rep[16 * FRAME];
	fresh(&st, 1);
	for (size_t i = 0; i < sizeof(cmds); i++) {
		struct bms_snapshot s;
		memset(&s, 0, sizeof(s));
		st.rq = (struct bms_request){.kind = BMS_REQ_READ, .reg = cmds[i]};
		CU_ASSERT_FATAL(bms_daly.build_request(st.b, &st.rq, req, sizeof(req)) == FRAME);
		CU_ASSERT(req[1] == 0x40 && req[2] == cmds[i]);
		st.rq.step = 1;
		CU_ASSERT(bms_daly.build_request(st.b, &st.rq, req, sizeof(req)) == 0);
		st.rq.step = 0;
		int m = bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep));
		CU_ASSERT_FATAL(m >= FRAME);
		int r = 0;
		for (int k = 0; k < m; k += FRAME) {
			struct bms_frame_desc d;
			CU_ASSERT(bms_daly_describe(rep + k, FRAME, &d) == 0);
			CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == cmds[i]);
			/* 0x57 is one frame per part; the lists are one reply */
			if (cmds[i] == 0x57 && k > 0)
				CU_ASSERT_FATAL(bms_daly.build_request(st.b, &st.rq, req,
								       sizeof(req)) == FRAME);
			r = bms_daly.parse(st.b, &st.rq, rep + k, FRAME, &s);
			CU_ASSERT(r == (k + FRAME < m && cmds[i] != 0x57 ? 1 : 0));
		}
		CU_ASSERT(r == 0);
		CU_ASSERT(s.valid == fills[i]);
	}
	/* writes and undocumented commands are no READ */
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	uint8_t d[8] = {1};
	uint8_t f[FRAME];
	frame_of(0xD9, d, f);
	st.rq = (struct bms_request){.kind = BMS_REQ_READ, .reg = 0xD9};
	CU_ASSERT(bms_daly.build_request(st.b, &st.rq, req, sizeof(req)) == -EOPNOTSUPP);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == -EPROTO);
	st.rq.reg = 0x99;
	CU_ASSERT(bms_daly.build_request(st.b, &st.rq, req, sizeof(req)) == -EOPNOTSUPP);
	CU_ASSERT(s.valid == 0);
}

static double item(const struct bms_frame_desc *d, const char *key)
{
	for (unsigned k = 0; k < d->n; k++)
		if (!strcmp(d->items[k].key, key))
			return d->items[k].is_text ? -2 : d->items[k].num;
	return -1;
}

static const char *item_text(const struct bms_frame_desc *d, const char *key)
{
	for (unsigned k = 0; k < d->n; k++)
		if (!strcmp(d->items[k].key, key) && d->items[k].is_text)
			return d->items[k].text;
	return "";
}

/* describe() of what the simulator says for 0x91/0x92/0x53/0x57 and the write requests. */
static void test_describe_items(void)
{
	struct bms_snapshot dev = sample_state();
	snprintf(dev.serial, sizeof(dev.serial), "DL-2021-000123-ABC");
	uint8_t req[FRAME], f[FRAME];
	static uint8_t rep[8 * FRAME];
	struct bms_frame_desc d;
	uint8_t pad[8] = {0};

	daly_put(0x40, 0x91, pad, req);
	CU_ASSERT(bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep)) == FRAME);
	CU_ASSERT(bms_daly_describe(rep, FRAME, &d) == 0);
	CU_ASSERT(fabs(item(&d, "max_cell_v") - 3.315) < 1e-9 && item(&d, "max_cell_no") == 16);
	CU_ASSERT(fabs(item(&d, "min_cell_v") - 3.300) < 1e-9 && item(&d, "min_cell_no") == 1);
	CU_ASSERT(item(&d, "cell_delta_mv") == 15);
	daly_put(0x40, 0x92, pad, req);
	CU_ASSERT(bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep)) == FRAME);
	CU_ASSERT(bms_daly_describe(rep, FRAME, &d) == 0);
	CU_ASSERT(item(&d, "max_temp_c") == 25 && item(&d, "max_temp_no") == 8);
	CU_ASSERT(item(&d, "min_temp_c") == -10 && item(&d, "min_temp_no") == 1);
	daly_put(0x40, 0x53, pad, req);
	CU_ASSERT(bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep)) == FRAME);
	CU_ASSERT(bms_daly_describe(rep, FRAME, &d) == 0);
	CU_ASSERT_STRING_EQUAL(item_text(&d, "production_date"), "2021-06-15");
	daly_put(0x40, 0x57, pad, req);
	CU_ASSERT(bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep)) == 5 * FRAME);
	CU_ASSERT(bms_daly_describe(rep + FRAME, FRAME, &d) == 0);
	CU_ASSERT(d.continues && item(&d, "frame") == 2);
	CU_ASSERT_STRING_EQUAL(item_text(&d, "battery_code_part"), "-000123");
	daly_put(0x40, 0x94, pad, req);
	CU_ASSERT(bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep)) == FRAME);
	CU_ASSERT(bms_daly_describe(rep, FRAME, &d) == 0);
	CU_ASSERT(item(&d, "cell_count") == -1); /* a snapshot field (cells_reported) */
	CU_ASSERT(item(&d, "charger") == 0 && item(&d, "load") == 1 && item(&d, "di1") == 0);
	daly_put(0x40, 0x95, pad, req);
	CU_ASSERT(bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep)) == 6 * FRAME);
	CU_ASSERT(bms_daly_describe(rep + 5 * FRAME, FRAME, &d) == 0);
	CU_ASSERT(d.continues && item(&d, "frame") == 6);
	CU_ASSERT(fabs(item(&d, "cell16_v") - 3.315) < 1e-9 && item(&d, "cell17_v") == 0);
	CU_ASSERT(item(&d, "cell15_v") == -1); /* frame 5's */

	/* requests: sender, board, filler; the writes' values */
	uint8_t aa[8];
	memset(aa, 0xAA, sizeof(aa));
	daly_put(0x42, 0x90, aa, f);
	CU_ASSERT(bms_daly_describe(f, FRAME, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REQUEST && d.address == 3 && d.command == 0x90);
	CU_ASSERT(item(&d, "host_address") == 0x42);
	CU_ASSERT_STRING_EQUAL(item_text(&d, "filler"), "0xAA");
	daly_put(0x80, 0x95, pad, f);
	CU_ASSERT(bms_daly_describe(f, FRAME, &d) == 0);
	CU_ASSERT(d.dir == BMS_DIR_REQUEST && d.address == -1 && item(&d, "host_address") == 0x80);
	uint8_t soc[8] = {24, 5, 17, 12, 30, 0, 0x02, 0x9A};
	daly_put(0x40, 0x21, soc, f);
	CU_ASSERT(bms_daly_describe(f, FRAME, &d) == 0);
	CU_ASSERT(item(&d, "year") == 2024 && item(&d, "minute") == 30);
	CU_ASSERT(fabs(item(&d, "soc_pct") - 66.6) < 1e-9);
	uint8_t on[8] = {1};
	daly_put(0x20, 0xDA, on, f);
	CU_ASSERT(bms_daly_describe(f, FRAME, &d) == 0);
	CU_ASSERT(d.command == 0xDA && item(&d, "charge_fet_on") == 1);
	/* an address the protocol has no sender or board for: not a Daly frame */
	daly_put(0x00, 0x90, pad, f);
	CU_ASSERT(bms_daly_describe(f, FRAME, &d) == -1);
	daly_put(0x30, 0x90, pad, f);
	CU_ASSERT(bms_daly_describe(f, FRAME, &d) == -1);
	f[12] ^= 1;
	CU_ASSERT(bms_daly_describe(f, FRAME, &d) == -1);
}

/* 0x98: every bit of bytes 0-6 has exactly one documented destination. */
static void test_fault_bits(void)
{
	struct st_buf st;
	uint8_t f[FRAME];
	unsigned seen[7] = {0};
	fresh(&st, 1);
	for (size_t i = 0; i < DALY_FAULT_BITS; i++) {
		const struct daly_fault *fl = &daly_faults[i];
		CU_ASSERT_FATAL(fl->byte < 7 && fl->bit < 8);
		CU_ASSERT(!(seen[fl->byte] & (1u << fl->bit)));
		seen[fl->byte] |= 1u << fl->bit;
		CU_ASSERT(fl->alarm == DALY_NO_ALARM ? fl->level <= 2 : fl->level >= 1);

		uint8_t d[8] = {0};
		d[fl->byte] = (uint8_t)(1u << fl->bit);
		frame_of(0x98, d, f);
		struct bms_snapshot s;
		memset(&s, 0, sizeof(s));
		CU_ASSERT_FATAL(start_step(&st, 0x98) == 0);
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
		for (unsigned a = 0; a < BMS_ALARM_COUNT; a++)
			CU_ASSERT(s.alarm[a] == (a == fl->alarm ? fl->level : 0));
		struct bms_frame_desc dd;
		CU_ASSERT(bms_daly_describe(f, FRAME, &dd) == 0);
		CU_ASSERT(item(&dd, fl->name) == 1 && item(&dd, "fault") == 1);
	}
	for (unsigned b = 0; b < 7; b++)
		CU_ASSERT(seen[b] == 0xFF);
	/* byte 7, the fault code, is an item only */
	uint8_t d[8] = {0, 0, 0, 0, 0, 0, 0, 0x21};
	frame_of(0x98, d, f);
	struct bms_frame_desc dd;
	CU_ASSERT(bms_daly_describe(f, FRAME, &dd) == 0);
	CU_ASSERT(item(&dd, "fault_code") == 0x21 && item(&dd, "fault") == 0);
}

/* Other masters' and boards' frames: foreign for every kind of request, snapshot untouched. */
static void test_foreign(void)
{
	struct st_buf st;
	struct bms_snapshot s, before;
	uint8_t f[FRAME], pad[8] = {0};
	uint8_t d90[8] = {0x02, 0x12, 0, 0, 0x75, 0x30, 0x02, 0x00};
	fresh(&st, 1);
	memset(&s, 0, sizeof(s));
	before = s;
	const struct bms_request reqs[] = {
		{.kind = BMS_REQ_PROBE},
		{.kind = BMS_REQ_POLL, .cycle = 1},
		{.kind = BMS_REQ_READ, .reg = 0x90},
	};
	static const uint8_t senders[] = {0x40, 0x41, 0x4F, 0x80, 0x20};
	for (size_t q = 0; q < sizeof(reqs) / sizeof(reqs[0]); q++) {
		uint8_t req[FRAME];
		st.rq = reqs[q];
		CU_ASSERT_FATAL(bms_daly.build_request(st.b, &st.rq, req, sizeof(req)) == FRAME);
		for (size_t k = 0; k < sizeof(senders); k++) {
			daly_put(senders[k], 0x90, pad, f);
			CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == BMS_FOREIGN);
		}
		daly_put(0x02, 0x90, d90, f); /* board 2's answer */
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == BMS_FOREIGN);
		daly_put(0x01, 0x91, d90, f); /* our board, another master's command */
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == BMS_FOREIGN);
		CU_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);
		daly_put(0x01, 0x90, d90, f); /* and the answer itself */
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == 0);
		CU_ASSERT(s.voltage_mv == 53000);
		memset(&s, 0, sizeof(s));
	}
}

/*
 * Feed bytes as the worker does: frames parse calls foreign are skipped and
 * counted, the rest must complete the step.
 */
static int feed_skipping(struct st_buf *st, const uint8_t *buf, size_t len, struct bms_snapshot *s,
			 unsigned *foreign)
{
	size_t pos = 0, start, flen;
	while (pos < len &&
	       bms_frame_find(&bms_daly, buf + pos, len - pos, &start, &flen) == BMS_FIND_VALID) {
		int r = bms_daly.parse(st->b, &st->rq, buf + pos + start, flen, s);
		pos += start + flen;
		if (r == BMS_FOREIGN) {
			(*foreign)++;
			continue;
		}
		if (r != 1)
			return r;
	}
	return -ENODATA;
}

/*
 * A second master on the bus (a display polling board 1 as 0x80): its
 * exchanges, the echo of our request and our answer share the line; the
 * poll still reads the truth and every foreign frame is skipped.
 */
static void test_second_master(void)
{
	struct bms_snapshot dev = sample_state(), s;
	struct st_buf st;
	static uint8_t line[64 * FRAME];
	unsigned foreign = 0, n = 0;
	fresh(&st, 1);
	memset(&s, 0, sizeof(s));
	for (unsigned step = 0;; step++) {
		st.rq = (struct bms_request){.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
		uint8_t req[FRAME];
		int q = bms_daly.build_request(st.b, &st.rq, req, sizeof(req));
		if (q == 0)
			break;
		CU_ASSERT_FATAL(q == FRAME);
		/* the display's exchange for the command after ours, so its reply
		 * cannot pass for ours */
		int m = bms_sim_daly_second_master(&dev, 1, step + 1, line, sizeof(line));
		CU_ASSERT_FATAL(m >= 2 * FRAME && line[1] == 0x80);
		size_t len = (size_t)m;
		memcpy(line + len, req, FRAME); /* our echo (CH340 adapters) */
		len += FRAME;
		m = bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, line + len, sizeof(line) - len);
		CU_ASSERT_FATAL(m >= FRAME);
		len += (size_t)m;
		CU_ASSERT(feed_skipping(&st, line, len, &s, &foreign) == 0);
		n++;
	}
	CU_ASSERT(n == 8);
	CU_ASSERT(foreign >= 3 * n);
	CU_ASSERT(s.voltage_mv == dev.voltage_mv && s.current_ma == dev.current_ma);
	CU_ASSERT(s.cell_count == 16 && s.cell_mv[15] == dev.cell_mv[15]);
	CU_ASSERT(s.temp_count == 8 && s.temp_dc[7] == dev.temp_dc[7]);
	CU_ASSERT(bms_sim_daly_second_master(&dev, 0, 0, line, sizeof(line)) == -EINVAL);
}

/* ---- property test (issue 15 item 7) ---- */

static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}
static int32_t rnd_in(int32_t lo, int32_t hi)
{
	return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
}

/* Can 0x98 carry alarm a at level? */
static bool level_on_wire(unsigned a, uint8_t level)
{
	for (size_t i = 0; i < DALY_FAULT_BITS; i++)
		if (daly_faults[i].alarm == a && daly_faults[i].level == level)
			return true;
	return false;
}

/* A random battery state in what Daly's wire carries exactly. */
static struct bms_snapshot random_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.cell_count = (uint8_t)rnd_in(1, 32);
	int32_t sum = 0;
	for (unsigned i = 0; i < s.cell_count; i++) {
		s.cell_mv[i] = (uint16_t)rnd_in(2500, 4200);
		sum += s.cell_mv[i];
	}
	s.voltage_mv = sum / 100 * 100;                /* 0.1 V */
	s.current_ma = rnd_in(-3000, 3000) * 100;      /* 0.1 A, both ways */
	s.soc_cpct = (uint16_t)(rnd_in(0, 1000) * 10); /* 0.1 % */
	s.capacity_remain_mah = rnd_in(0, 2000000);
	s.capacity_design_mah = s.capacity_full_mah = rnd_in(1000, 2000000);
	s.cycles = (uint32_t)rnd_in(0, 65535);
	s.temp_count = (uint8_t)rnd_in(1, BMS_MAX_TEMPS);
	for (unsigned i = 0; i < s.temp_count; i++)
		s.temp_dc[i] = (int16_t)(rnd_in(-20, 60) * 10); /* whole degC */
	s.charge_fet = rnd() & 1;
	s.discharge_fet = rnd() & 1;
	s.balancing = rnd() & (s.cell_count == 32 ? 0xFFFFFFFFu : (1u << s.cell_count) - 1);
	for (unsigned a = 0; a < BMS_ALARM_COUNT; a++) {
		uint8_t l = (uint8_t)rnd_in(0, 2);
		s.alarm[a] = level_on_wire(a, l) ? l : 0;
	}
	s.valid = BMS_V_ALARMS | BMS_V_CAP_DESIGN;
	return s;
}

static const uint32_t all_valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN |
				  BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS |
				  BMS_V_TEMPS | BMS_V_FETS | BMS_V_BALANCING | BMS_V_ALARMS |
				  BMS_V_COUNTS;

/* got == truth field by field; 0 when equal. */
static int same_state(const struct bms_snapshot *t, const struct bms_snapshot *g)
{
	int bad = 0;
	bad |= (g->valid & all_valid) != all_valid;
	bad |= g->voltage_mv != t->voltage_mv;
	bad |= g->current_ma != t->current_ma;
	bad |= g->soc_cpct != t->soc_cpct;
	bad |= g->capacity_remain_mah != t->capacity_remain_mah;
	bad |= g->capacity_full_mah != t->capacity_full_mah;
	bad |= g->capacity_design_mah != t->capacity_design_mah;
	bad |= g->cycles != t->cycles;
	bad |= g->cell_count != t->cell_count || g->cells_reported != t->cell_count;
	bad |= memcmp(g->cell_mv, t->cell_mv, t->cell_count * sizeof(t->cell_mv[0])) != 0;
	bad |= g->temp_count != t->temp_count || g->temps_reported != t->temp_count;
	bad |= memcmp(g->temp_dc, t->temp_dc, t->temp_count * sizeof(t->temp_dc[0])) != 0;
	bad |= g->charge_fet != t->charge_fet || g->discharge_fet != t->discharge_fet;
	bad |= g->balancing != t->balancing;
	bad |= memcmp(g->alarm, t->alarm, sizeof(t->alarm)) != 0;
	return bad;
}

/* Replace frame k's data (13-byte frames) and fix its sum. */
static void refix(uint8_t *f)
{
	f[12] = bms_sum8(f, 12);
}

/*
 * One poll cycle of requests (built by the driver) and replies (the
 * simulator) in wire order as one capture, variant v: bit 0 = the 16-frame
 * firmware (zero cell frames up to 16), bit 1 = 0x96 padded with 00.
 */
static size_t poll_capture(struct bms_snapshot *dev, unsigned v, uint8_t *out, size_t cap)
{
	struct st_buf st;
	fresh(&st, 1);
	size_t len = 0;
	for (unsigned step = 0;; step++) {
		struct bms_request rq = {.kind = BMS_REQ_POLL, .step = step, .cycle = 1};
		int q = bms_daly.build_request(st.b, &rq, out + len, cap - len);
		if (q == 0)
			break;
		CU_ASSERT_FATAL(q == FRAME);
		uint8_t cmd = out[len + 2];
		len += FRAME;
		int m = bms_sim_respond(&bms_daly, dev, 1, out + len - FRAME, FRAME, out + len,
					cap - len);
		CU_ASSERT_FATAL(m >= FRAME);
		uint8_t *rep = out + len;
		len += (size_t)m;
		if (cmd == 0x95 && (v & 1)) {
			for (unsigned k = (unsigned)m / FRAME + 1; k <= 16; k++, len += FRAME) {
				uint8_t z[8] = {(uint8_t)k};
				frame_of(0x95, z, out + len);
			}
		}
		if (cmd == 0x96 && (v & 2)) {
			for (unsigned k = 0; k < (unsigned)m / FRAME; k++) {
				uint8_t *f = rep + k * FRAME;
				for (unsigned i = 0; i < 7; i++)
					if (k * 7 + i >= dev->temp_count)
						f[5 + i] = 0x00;
				refix(f);
			}
		}
	}
	return len;
}

/* The decode engine itself (tools/decode.c) on a capture: 0 refused, its snapshot. */
static unsigned engine_decode(const uint8_t *buf, size_t len, struct bms_snapshot *got)
{
	struct decode_segment seg = {buf, len};
	struct decode_result res;
	CU_ASSERT_FATAL(decode_capture(&bms_daly, -1, &seg, 1, NULL, &res) == 0);
	*got = res.snap;
	return res.refused + res.checksum_errors + res.truncated;
}

/*
 * Random states (1-32 cells, -20..60 degC, both current directions, FETs
 * on and off, SOC, capacities, cycles, alarms) through the simulator's
 * encoder and back through `serialbattery decode`'s engine, field by field:
 * dc_decode_roundtrip (the driver's own poll, the simulator's replies), and
 * the same poll as firmware variants send it (the cell list in all 16
 * frames, the unused sensor bytes 00 instead of FF) through the engine and
 * through the decode contract as this file spells it (capture_decode).
 */
static void test_property(void)
{
	rng_state = 0x5eed15da1ULL;
	static uint8_t capbuf[64 * FRAME];
	unsigned failed = 0, states = 600;
	for (unsigned i = 0; i < states; i++) {
		struct bms_snapshot truth = random_state(), dev = truth, got;
		int r = dc_decode_roundtrip(&bms_daly, 1, &truth, &got);
		bool bad = r != 0 || same_state(&truth, &got);

		unsigned variant = i % 4;
		size_t len = poll_capture(&dev, variant, capbuf, sizeof(capbuf));
		unsigned refused = engine_decode(capbuf, len, &got);
		bad = bad || refused || same_state(&truth, &got);
		struct cap c;
		capture_decode(capbuf, len, &c);
		bad = bad || c.refused || c.open_at_end || same_state(&truth, &c.snap);
		if (bad && failed++ < 3)
			printf("\n    state %u (%u cells, %u sensors, variant %u): roundtrip %d, "
			       "engine refused %u, contract refused %u\n",
			       i, truth.cell_count, truth.temp_count, variant, r, refused,
			       c.refused);
	}
	CU_ASSERT(failed == 0);
	printf("\n    daly property: %u states, %u differ\n", states, failed);
}

/* Every Daly vector through the engine: nothing refused, the same snapshot as the contract. */
/* A write's request as the driver builds it for board 1. */
static int set_req(enum bms_command cmd, int32_t value, int64_t clock, uint8_t *out)
{
	struct st_buf st;
	fresh(&st, 1);
	struct bms_request rq = {
		.kind = BMS_REQ_SET, .command = cmd, .value = value, .local_time_s = clock};
	return bms_daly.build_request(st.b, &rq, out, FRAME);
}

/* 2026-12-05 06:34:30 on the local clock */
#define CLOCK 1796452470

/* Writes (issue 17): 0xDA / 0xD9 FETs and 0x21 SOC, protocols.md section 4. */
static void test_set_requests(void)
{
	CU_ASSERT(bms_driver_supports(&bms_daly, BMS_CMD_CHARGE_FET));
	CU_ASSERT(bms_driver_supports(&bms_daly, BMS_CMD_DISCHARGE_FET));
	CU_ASSERT(bms_driver_supports(&bms_daly, BMS_CMD_SOC));
	CU_ASSERT(bms_driver_supports(&bms_daly, BMS_CMD_STANDBY)); /* through both FETs */
	CU_ASSERT(!bms_driver_supports(&bms_daly, BMS_CMD_BALANCER));
	uint8_t req[FRAME];
	static const uint8_t chg_off[FRAME] = {0xA5, 0x40, 0xDA, 0x08, 0, 0,   0,
					       0,    0,    0,    0,    0, 0xC7};
	CU_ASSERT(set_req(BMS_CMD_CHARGE_FET, 0, 0, req) == FRAME);
	CU_ASSERT(memcmp(req, chg_off, FRAME) == 0);
	static const uint8_t dsg_on[FRAME] = {0xA5, 0x40, 0xD9, 0x08, 1, 0, 0, 0, 0, 0, 0, 0, 0xC7};
	CU_ASSERT(set_req(BMS_CMD_DISCHARGE_FET, 1, 0, req) == FRAME);
	CU_ASSERT(memcmp(req, dsg_on, FRAME) == 0);
	/* YY MM DD hh mm ss, then 55.5 % as 555 */
	static const uint8_t soc[FRAME] = {0xA5, 0x40, 0x21, 0x08, 0x1A, 0x0C, 0x05,
					   0x06, 0x22, 0x1E, 0x02, 0x2B, 0xAC};
	CU_ASSERT(set_req(BMS_CMD_SOC, 5550, CLOCK, req) == FRAME);
	CU_ASSERT(memcmp(req, soc, FRAME) == 0);
	CU_ASSERT(set_req(BMS_CMD_SOC, 5546, CLOCK, req) == FRAME && req[11] == 0x2B); /* rounded */
	/* board 3 asks as host 0x42 */
	struct st_buf st;
	fresh(&st, 3);
	struct bms_request rq = {.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET, .value = 1};
	CU_ASSERT(bms_daly.build_request(st.b, &rq, req, sizeof(req)) == FRAME && req[1] == 0x42);
	rq.step = 1; /* one frame per write */
	CU_ASSERT(bms_daly.build_request(st.b, &rq, req, sizeof(req)) == 0);
	/* what it cannot send */
	CU_ASSERT(set_req(BMS_CMD_CHARGE_FET, 2, 0, req) == -EINVAL);
	CU_ASSERT(set_req(BMS_CMD_SOC, 10001, CLOCK, req) == -EINVAL);
	CU_ASSERT(set_req(BMS_CMD_SOC, -1, CLOCK, req) == -EINVAL);
	CU_ASSERT(set_req(BMS_CMD_SOC, 5000, 0, req) == -EINVAL); /* no clock: no date to send */
	CU_ASSERT(set_req(BMS_CMD_BALANCER, 1, 0, req) == -EOPNOTSUPP);
	CU_ASSERT(set_req(BMS_CMD_NONE, 0, 0, req) == -EOPNOTSUPP);
}

/* The reply decides: echo of the FET state / 1 for an SOC is done, else refused. */
static void test_set_replies(void)
{
	struct st_buf st;
	fresh(&st, 1);
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	uint8_t f[FRAME], req[FRAME];
	uint8_t d0[8] = {0}, d1[8] = {1};
	struct bms_request off = {.kind = BMS_REQ_SET, .command = BMS_CMD_CHARGE_FET, .value = 0};
	frame_of(0xDA, d0, f);
	CU_ASSERT(bms_daly.parse(st.b, &off, f, FRAME, &s) == 0);
	frame_of(0xDA, d1, f); /* it kept the FET on */
	CU_ASSERT(bms_daly.parse(st.b, &off, f, FRAME, &s) == -EPERM);
	frame_of(0xD9, d0, f); /* the other FET's reply: someone else's exchange */
	CU_ASSERT(bms_daly.parse(st.b, &off, f, FRAME, &s) == BMS_FOREIGN);
	CU_ASSERT(set_req(BMS_CMD_CHARGE_FET, 0, 0, req) == FRAME);
	CU_ASSERT(bms_daly.parse(st.b, &off, req, FRAME, &s) == BMS_FOREIGN); /* our echo */
	struct bms_request soc = {
		.kind = BMS_REQ_SET, .command = BMS_CMD_SOC, .value = 8000, .local_time_s = CLOCK};
	frame_of(0x21, d1, f);
	CU_ASSERT(bms_daly.parse(st.b, &soc, f, FRAME, &s) == 0);
	frame_of(0x21, d0, f);
	CU_ASSERT(bms_daly.parse(st.b, &soc, f, FRAME, &s) == -EPERM);
	CU_ASSERT(s.valid == 0); /* an acknowledgement fills nothing */
}

/* One write through the simulator: 0 when the driver took its reply as done. */
static int sim_set(struct bms_snapshot *dev, enum bms_command cmd, int32_t value)
{
	struct st_buf st;
	fresh(&st, 1);
	struct bms_request rq = {
		.kind = BMS_REQ_SET, .command = cmd, .value = value, .local_time_s = CLOCK};
	uint8_t req[FRAME], rep[4 * FRAME];
	int n = bms_daly.build_request(st.b, &rq, req, sizeof(req));
	if (n != FRAME)
		return n < 0 ? n : -EIO;
	int m = bms_sim_respond(&bms_daly, dev, 1, req, FRAME, rep, sizeof(rep));
	if (m <= 0)
		return -ETIMEDOUT;
	struct bms_snapshot ack;
	memset(&ack, 0, sizeof(ack));
	return dc_feed(&bms_daly, st.b, &rq, rep, (size_t)m, &ack);
}

/* The simulator takes each write: the next poll shows it. */
static void test_set_sim(void)
{
	struct bms_snapshot dev = sample_state(), got;
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_daly, 1, &dev, &got) == 0);
	CU_ASSERT(got.charge_fet && got.discharge_fet);
	CU_ASSERT(sim_set(&dev, BMS_CMD_CHARGE_FET, 0) == 0);
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_daly, 1, &dev, &got) == 0);
	CU_ASSERT(!got.charge_fet && got.discharge_fet);
	CU_ASSERT(sim_set(&dev, BMS_CMD_DISCHARGE_FET, 0) == 0);
	CU_ASSERT(sim_set(&dev, BMS_CMD_CHARGE_FET, 1) == 0);
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_daly, 1, &dev, &got) == 0);
	CU_ASSERT(got.charge_fet && !got.discharge_fet);
	CU_ASSERT(sim_set(&dev, BMS_CMD_SOC, 10000) == 0);
	CU_ASSERT_FATAL(dc_decode_roundtrip(&bms_daly, 1, &dev, &got) == 0);
	CU_ASSERT((got.valid & BMS_V_SOC) && got.soc_cpct == 10000);
	CU_ASSERT(got.capacity_remain_mah == 100000);
	/* a request the board cannot take is answered "no" and changes nothing */
	uint8_t req[FRAME], rep[FRAME];
	uint8_t bad[8] = {0, 0, 0, 0, 0, 0, 0x07, 0xD0}; /* 200 %, no date */
	daly_put(0x40, 0x21, bad, req);
	CU_ASSERT(bms_sim_respond(&bms_daly, &dev, 1, req, FRAME, rep, sizeof(rep)) == FRAME);
	CU_ASSERT(rep[2] == 0x21 && rep[4] == 0);
	CU_ASSERT(dev.soc_cpct == 10000);
	struct st_buf st;
	fresh(&st, 1);
	struct bms_request rq = {
		.kind = BMS_REQ_SET, .command = BMS_CMD_SOC, .value = 5000, .local_time_s = CLOCK};
	CU_ASSERT(dc_feed(&bms_daly, st.b, &rq, rep, FRAME, &got) == -EPERM);
}

static void test_engine_vectors(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	static uint8_t buf[1024];
	unsigned n_vec = 0;
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].family, "daly"))
			continue;
		int n = vec_hex(v[i].hex, buf, sizeof(buf));
		CU_ASSERT_FATAL(n > 0);
		struct bms_snapshot got;
		CU_ASSERT(engine_decode(buf, (size_t)n, &got) == 0);
		struct cap c;
		capture_decode(buf, (size_t)n, &c);
		CU_ASSERT(got.valid == c.snap.valid);
		CU_ASSERT(got.voltage_mv == c.snap.voltage_mv &&
			  got.current_ma == c.snap.current_ma);
		CU_ASSERT(got.cell_count == c.snap.cell_count &&
			  !memcmp(got.cell_mv, c.snap.cell_mv, sizeof(got.cell_mv)));
		CU_ASSERT(got.temp_count == c.snap.temp_count &&
			  !memcmp(got.temp_dc, c.snap.temp_dc, sizeof(got.temp_dc)));
		n_vec++;
	}
	CU_ASSERT(n_vec == 9);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"frames", test_frames},
		{"sim_roundtrip", test_sim_roundtrip},
		{"cell_frames", test_cell_frames},
		{"cell_frames_unknown_count", test_cell_frames_unknown_count},
		{"faults", test_faults},
		{"current_sign", test_current_sign},
		{"address", test_address},
		{"rated_schedule", test_rated_schedule},
		{"capture_vectors", test_capture_vectors},
		{"capture_r24ts", test_capture_r24ts},
		{"temp_padding", test_temp_padding},
		{"broken_sequence", test_broken_sequence},
		{"read_16_frames", test_read_16_frames},
		{"read_commands", test_read_commands},
		{"describe_items", test_describe_items},
		{"fault_bits", test_fault_bits},
		{"foreign", test_foreign},
		{"second_master", test_second_master},
		{"property", test_property},
		{"engine_vectors", test_engine_vectors},
		{"set_requests", test_set_requests},
		{"set_replies", test_set_replies},
		{"set_sim", test_set_sim},
		{NULL, NULL},
	};
	return sb_add_suite("daly", tests);
}
