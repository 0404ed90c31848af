/* SPDX-License-Identifier: MIT */
/*
 * Daly A5 driver: captured vectors (each 13-byte frame of the concatenated
 * captures run through), frame check conformance per frame, requests,
 * simulator round trip, multi-frame cell and temperature lists, fault
 * levels, the current sign check.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/stats.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
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

static enum dc_map num(struct dc_value *ret, double v)
{
	ret->kind = VEC_NUM;
	ret->num = v;
	return DC_MAPPED;
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
		return (s->valid & BMS_V_CURRENT) ? num(ret, 30000 - s->current_ma / 100.0)
						  : DC_UNKNOWN;
	if (!strcmp(key, "current_a_offset30000"))
		return (s->valid & BMS_V_CURRENT) ? num(ret, -s->current_ma / 1000.0) : DC_UNKNOWN;
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
		return (s->valid & BMS_V_CELLS) ? num(ret, cs.cell_max_mv - cs.cell_min_mv)
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

	/* firmware that sends 16 frames: the surplus is refused and remembered */
	CU_ASSERT_FATAL(start_step(&st, 0x95) == 0);
	for (uint8_t k = 1; k <= 3; k++) {
		cell_frame(k, 3310, 3310, 3310, f);
		CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == (k < 3 ? 1 : 0));
	}
	CU_ASSERT_FATAL(start_step(&st, 0x96) == 0);
	cell_frame(4, 0, 0, 0, f);
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == -EPROTO);
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

/* Another board's reply or an echo of our request is not an answer. */
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
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, req, FRAME, &s) == -EPROTO); /* echo */
	uint8_t d[8] = {0x02, 0x12, 0, 0, 0x75, 0x30, 0x02, 0x00};
	frame_of(0x90, d, f); /* from board 1 */
	CU_ASSERT(bms_daly.parse(st.b, &st.rq, f, FRAME, &s) == -EPROTO);
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
		{NULL, NULL},
	};
	return sb_add_suite("daly", tests);
}
