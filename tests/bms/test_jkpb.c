/* SPDX-License-Identifier: MIT */
/* JK PB RS485 driver: vectors, frame check, ACK attribution, foreign frames, READ, describe. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/registry.h"
#include "bms/bytes.h"
#include "bms/fields.h"
#include "bms/jkpb_wire.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"
#include "tools/decode.h"

extern const struct bms_driver bms_jkpb;

/* The poll steps: settings, about, status. */
static const struct bms_request poll_settings = {.kind = BMS_REQ_POLL, .step = 0, .cycle = 1};
static const struct bms_request poll_about = {.kind = BMS_REQ_POLL, .step = 1, .cycle = 1};
static const struct bms_request poll_status = {.kind = BMS_REQ_POLL, .step = 2, .cycle = 1};

static void *state_new(uint8_t addr)
{
	void *st = calloc(1, bms_jkpb.state_size);
	CU_ASSERT_FATAL(st != NULL);
	CU_ASSERT_FATAL(bms_jkpb.init(st, addr) == 0);
	return st;
}

static enum dc_map pb_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			  size_t len, struct dc_value *ret)
{
	if (!strcmp(key, "frame_type")) {
		ret->kind = VEC_NUM;
		ret->num = len > 4 ? frame[4] : -1;
		return DC_MAPPED;
	}
	if (!strcmp(key, "device_id")) {
		ret->kind = VEC_STR;
		strcpy(ret->str, (s->valid & BMS_V_MODEL) ? s->model : "(no model)");
		return DC_MAPPED;
	}
	/* describe() items, checked in test_describe_vectors */
	static const char *const skip[] = {"runtime_s", "uptime_s", "power_on_count", NULL};
	if (dc_key_in(key, skip))
		return DC_SKIP;
	return DC_UNKNOWN;
}

/*
 * Feed bytes as the worker does (worker/link.c step_once): BMS_FOREIGN frames
 * are skipped and counted (the snapshot must be untouched), parse 1 reads on,
 * 0 or an error ends the step. -ENODATA when the bytes ran out first.
 */
static int feed(void *st, const struct bms_request *req, const uint8_t *buf, size_t len,
		struct bms_snapshot *snap, unsigned *ret_foreign)
{
	size_t pos = 0;
	unsigned foreign = 0;
	int last = -ENODATA;
	while (pos < len) {
		size_t start, flen;
		if (bms_frame_find(&bms_jkpb, buf + pos, len - pos, &start, &flen) !=
		    BMS_FIND_VALID)
			break;
		struct bms_snapshot before = *snap;
		int r = bms_jkpb.parse(st, req, buf + pos + start, flen, snap);
		pos += start + flen;
		if (r == BMS_FOREIGN) {
			foreign++;
			CU_ASSERT(memcmp(&before, snap, sizeof(before)) == 0);
			continue;
		}
		if (r == 1) {
			last = -ENODATA;
			continue;
		}
		last = r;
		break;
	}
	if (ret_foreign)
		*ret_foreign = foreign;
	return last;
}

static struct bms_snapshot sample_state(void)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.voltage_mv = 53224;
	s.current_ma = -31881;
	s.power_mw = -1696834;
	s.soc_cpct = 2500;
	s.soh_cpct = 9900;
	s.capacity_remain_mah = 49286;
	s.capacity_full_mah = 200000;
	s.capacity_design_mah = 280000;
	s.cycles = 9;
	s.cell_count = 16;
	for (unsigned i = 0; i < 16; i++)
		s.cell_mv[i] = (uint16_t)(3320 + i);
	s.balancing = (1u << 2) | (1u << 9);
	s.temp_count = 4;
	s.temp_dc[0] = 134;
	s.temp_dc[1] = -128;
	s.temp_dc[2] = 131;
	s.temp_dc[3] = 135;
	s.mosfet_temp_dc = 129;
	s.charge_fet = true;
	s.discharge_fet = true;
	s.balancer_enabled = true;
	s.alarm[BMS_ALARM_HIGH_CELL_VOLTAGE] = 2;
	s.alarm[BMS_ALARM_HIGH_TEMPERATURE] = 1;
	s.alarm[BMS_ALARM_INTERNAL_FAILURE] = 1;
	s.max_charge_ma = 100000;
	s.max_discharge_ma = 150000;
	strcpy(s.model, "JK-PB2A16S20P");
	strcpy(s.hw_version, "19A");
	strcpy(s.sw_version, "19.27");
	strcpy(s.serial, "506177F49000674");
	s.heating = true;
	s.heater_current_ma = 2350;
	s.heating_enabled = true;
	s.heating_start_dc = -50;
	s.heating_stop_dc = 50;
	return s;
}

/* The reply of the simulated unit at sim_addr to the request req_addr's state builds for req:
 * optionally the echo of the request first. Returns the byte count (0: silent). */
static int sim_reply(const struct bms_snapshot *state, const struct bms_request *req,
		     uint8_t req_addr, uint8_t sim_addr, uint8_t *out, size_t cap, bool echo)
{
	void *st = state_new(req_addr);
	uint8_t rq[16];
	struct bms_snapshot s = *state;
	int n = bms_jkpb.build_request(st, req, rq, sizeof(rq));
	free(st);
	CU_ASSERT_FATAL(n == PB_REQ);
	size_t off = 0;
	if (echo) {
		memcpy(out, rq, (size_t)n);
		off = (size_t)n;
	}
	int m = bms_sim_respond(&bms_jkpb, &s, sim_addr, rq, (size_t)n, out + off, cap - off);
	return m <= 0 ? m : (int)off + m;
}

/* One exchange at addr: build req's request, feed the reply bytes. */
static int exchange(uint8_t addr, const struct bms_request *req, const uint8_t *reply, size_t n,
		    struct bms_snapshot *snap)
{
	void *st = state_new(addr);
	uint8_t rq[16];
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, req, rq, sizeof(rq)) == PB_REQ);
	memset(snap, 0, sizeof(*snap));
	int r = feed(st, req, reply, n, snap, NULL);
	free(st);
	return r;
}

/* The 10 bytes after a data frame on RS485: 00, the ACK of addr for reg, 00. */
static void ack_tail(uint8_t *out, uint8_t addr, uint16_t reg)
{
	out[0] = 0;
	out[1] = addr;
	out[2] = 0x10;
	put_u16be(out + 3, reg);
	put_u16be(out + 5, 1);
	put_u16le(out + 7, bms_crc16_modbus(out + 1, 6));
	out[9] = 0;
}

static void check_keys(const char *what, const struct vec *v, const struct bms_snapshot *s,
		       const uint8_t *f, size_t n)
{
	for (unsigned k = 0; k < v->nexpect; k++) {
		const struct vec_expect *e = &v->expect[k];
		struct dc_value got;
		memset(&got, 0, sizeof(got));
		enum dc_map m = pb_map(e->key, s, f, n, &got);
		if (m == DC_UNKNOWN)
			m = dc_map_common(e->key, s, f, n, &got);
		CU_ASSERT(m != DC_UNKNOWN);
		if (m != DC_MAPPED)
			continue;
		bool ok = e->kind == VEC_STR     ? !strcmp(got.str, e->str)
			  : e->kind == VEC_ARRAY ? got.n == e->n
			  : got.kind == VEC_NUM || got.kind == VEC_BOOL
				  ? fabs(got.num - e->num) < 0.001
				  : false;
		for (unsigned i = 0; ok && e->kind == VEC_ARRAY && i < e->n; i++)
			ok = fabs(got.arr[i] - e->arr[i]) < 0.001;
		if (!ok)
			fprintf(stderr, "\n    %s: %s differs\n", what, e->key);
		CU_ASSERT(ok);
	}
}

/*
 * Every captured data frame (BLE captures: no ACK) decodes to its expected
 * values: alone under a READ of its trigger (a capture), and on the RS485
 * line followed by our ACK under the poll step that asks for it.
 */
static void test_vectors(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	unsigned checked = 0;
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].protocol, "jkpb") || strcmp(v[i].direction, "response"))
			continue;
		uint8_t f[PB_FRAME + 10];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n == PB_FRAME);
		uint16_t trig = pb_trigger_of(f[4]);
		CU_ASSERT_FATAL(trig != 0);
		char what[64];
		snprintf(what, sizeof(what), "jkpb vector %zu", i);

		struct bms_request rd = {.kind = BMS_REQ_READ, .reg = trig};
		void *st = state_new(1);
		uint8_t rq[16];
		CU_ASSERT_FATAL(bms_jkpb.build_request(st, &rd, rq, sizeof(rq)) == PB_REQ);
		struct bms_snapshot alone;
		memset(&alone, 0, sizeof(alone));
		CU_ASSERT(bms_jkpb.parse(st, &rd, f, PB_FRAME, &alone) == 1);
		/* the decoder's second pass: no ACK followed, so the frame is a whole reply */
		struct bms_snapshot again;
		memset(&again, 0, sizeof(again));
		CU_ASSERT_FATAL(bms_jkpb.build_request(st, &rd, rq, sizeof(rq)) == PB_REQ);
		CU_ASSERT(bms_jkpb.parse(st, &rd, f, PB_FRAME, &again) == 0);
		CU_ASSERT(memcmp(&again, &alone, sizeof(alone)) == 0);
		free(st);
		check_keys(what, &v[i], &alone, f, PB_FRAME);

		const struct bms_request *preq = f[4] == 0x02   ? &poll_status
						 : f[4] == 0x01 ? &poll_settings
								: &poll_about;
		ack_tail(f + PB_FRAME, 1, trig);
		struct bms_snapshot polled;
		CU_ASSERT(exchange(1, preq, f, sizeof(f), &polled) == 0);
		CU_ASSERT(memcmp(&polled, &alone, sizeof(alone)) == 0);
		checked++;
	}
	CU_ASSERT(checked == dc_count(&bms_jkpb, "response"));
	CU_ASSERT(checked == 4);
}

static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(&bms_jkpb, 1) == 3);
}

#define ALL_VALID                                                                                  \
	(BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |  \
	 BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |            \
	 BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING | BMS_V_BALANCER | BMS_V_ALARMS |        \
	 BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_SERIAL | BMS_V_MODEL |                 \
	 BMS_V_HW_VERSION | BMS_V_SW_VERSION | BMS_V_COUNTS | BMS_V_HEATING |                      \
	 BMS_V_HEATER_CURRENT | BMS_V_HEATER_SETTINGS)

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(&bms_jkpb, 1, &s, ALL_VALID);
	dc_check_alarm_mask(&bms_jkpb, 1, &s);
	dc_check_sim_roundtrip(&bms_jkpb, 15, &s, ALL_VALID);
	s.balancing = 0;
	s.current_ma = 5000;
	s.power_mw = 266120;
	dc_check_sim_roundtrip(&bms_jkpb, 7, &s, ALL_VALID);
}

/* The adapter echoes the 11 request bytes before the reply: a foreign frame, one clean step. */
static void test_echo_and_ack(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap, s = sample_state();
	int n = sim_reply(&s, &poll_status, 3, 3, buf, sizeof(buf), true);
	CU_ASSERT_FATAL(n == 11 + 310);
	void *st = state_new(3);
	uint8_t rq[16];
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, &poll_status, rq, sizeof(rq)) == PB_REQ);
	memset(&snap, 0, sizeof(snap));
	unsigned foreign = 0;
	CU_ASSERT(feed(st, &poll_status, buf, (size_t)n, &snap, &foreign) == 0);
	CU_ASSERT(foreign == 1);
	free(st);
	CU_ASSERT(snap.voltage_mv == 53224);
	CU_ASSERT(snap.current_ma == -31881);

	/* the echo alone: an 11-byte frame (a request) */
	size_t start, len;
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf, 11, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && len == PB_REQ);
	/* data frame, 00, ACK, 00: each 00 is taken with the frame before it, so the whole
	 * reply is two frames with nothing between or after them (a clean exchange) */
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 11, 310, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && len == 301);
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 312, 9, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && len == 9);
	/* not arrived yet, the 00 is not waited for: the frame alone is whole */
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 11, 300, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && len == 300);
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 312, 8, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && len == 8);
	/* the frame's 00 read apart from it: the ACK found after the stray byte */
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 311, 10, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 1 && len == 9);
	/* a 00 on its own is garbage at once, not the start of a frame */
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 320, 1, &start, &len) == BMS_FIND_INVALID);
	/* the parse takes a frame with its 00 as the frame */
	st = state_new(3);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(bms_jkpb.parse(st, &poll_status, buf + 11, 301, &snap) == 1);
	CU_ASSERT(bms_jkpb.parse(st, &poll_status, buf + 312, 9, &snap) == 0);
	CU_ASSERT(snap.voltage_mv == 53224);
	free(st);
	/* the ACK cut short: NEED_MORE where it starts */
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 311, 5, &start, &len) == BMS_FIND_NEED_MORE);
	CU_ASSERT(start == 1);
	/* without the ACK the step is not complete and nothing is decoded: the sender is unknown */
	CU_ASSERT(exchange(3, &poll_status, buf + 11, 300, &snap) == -ENODATA);
	CU_ASSERT(snap.valid == 0);
}

/* Every trigger request and ACK of every address is found whole, and told apart. */
static void test_frame_kinds(void)
{
	static const uint16_t regs[] = {PB_TRIG_STATUS, PB_TRIG_SETTINGS, PB_TRIG_ABOUT};
	for (unsigned a = 0; a <= PB_ADDR_MAX + 1; a++) {
		for (size_t k = 0; k < 3; k++) {
			uint8_t b[16];
			b[0] = (uint8_t)a;
			b[1] = 0x10;
			put_u16be(b + 2, regs[k]);
			put_u16be(b + 4, 1);
			b[6] = 2;
			put_u16be(b + 7, 0);
			put_u16le(b + 9, bms_crc16_modbus(b, 9));
			size_t start, len;
			if (a == 0 || a > PB_ADDR_MAX) {
				/* the master is never addressed; no unit above 15 */
				CU_ASSERT(bms_frame_find(&bms_jkpb, b, 11, &start, &len) ==
					  BMS_FIND_INVALID);
				ack_tail(b, (uint8_t)a, regs[k]);
				CU_ASSERT(bms_frame_find(&bms_jkpb, b, 10, &start, &len) ==
					  BMS_FIND_INVALID);
				continue;
			}
			CU_ASSERT(bms_frame_find(&bms_jkpb, b, 11, &start, &len) == BMS_FIND_VALID);
			CU_ASSERT(start == 0 && len == PB_REQ);
			dc_check_frame(&bms_jkpb, b, PB_REQ);
			struct bms_frame_desc d;
			CU_ASSERT(bms_jkpb_describe(b, PB_REQ, &d) == 0);
			CU_ASSERT(d.dir == BMS_DIR_REQUEST && d.command == regs[k] &&
				  d.address == (int)a);
			ack_tail(b, (uint8_t)a, regs[k]);
			CU_ASSERT(bms_frame_find(&bms_jkpb, b + 1, 8, &start, &len) ==
				  BMS_FIND_VALID);
			CU_ASSERT(start == 0 && len == PB_ACK);
			dc_check_frame(&bms_jkpb, b + 1, PB_ACK);
			CU_ASSERT(bms_jkpb_describe(b + 1, PB_ACK, &d) == 0);
			CU_ASSERT(d.dir == BMS_DIR_REPLY && d.command == regs[k] &&
				  d.address == (int)a && d.continues);
		}
	}
}

/* A reply whose ACK names another unit or trigger is foreign and never decoded. */
static void test_ack_matching(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap, s = sample_state();
	int n = sim_reply(&s, &poll_status, 4, 4, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	CU_ASSERT(exchange(4, &poll_status, buf, (size_t)n, &snap) == 0);
	CU_ASSERT(exchange(5, &poll_status, buf, (size_t)n, &snap) == -ENODATA);
	CU_ASSERT(snap.valid == 0);
	/* the simulator at 4 ignores a request to 5 */
	CU_ASSERT(sim_reply(&s, &poll_status, 5, 4, buf, sizeof(buf), false) == 0);
	/* corrupt the ACK CRC: the step never completes, nothing decoded */
	n = sim_reply(&s, &poll_status, 4, 4, buf, sizeof(buf), false);
	buf[301 + 7] ^= 0x5a;
	CU_ASSERT(exchange(4, &poll_status, buf, (size_t)n, &snap) == -ENODATA);
	CU_ASSERT(snap.valid == 0);
	/* our ACK, but for another trigger (someone else asked our unit): foreign */
	n = sim_reply(&s, &poll_status, 4, 4, buf, sizeof(buf), false);
	ack_tail(buf + 300, 4, PB_TRIG_ABOUT);
	CU_ASSERT(exchange(4, &poll_status, buf, (size_t)n, &snap) == -ENODATA);
	CU_ASSERT(snap.valid == 0);
	/* an ACK of ours with no data frame before it: ours, but broken */
	n = sim_reply(&s, &poll_status, 4, 4, buf, sizeof(buf), false);
	CU_ASSERT(exchange(4, &poll_status, buf + 300, (size_t)n - 300, &snap) == -EPROTO);
}

/*
 * A shared line with a master pack (address 0): it triggers unit 2, unit 2
 * answers with data and ACK, the master broadcasts its own status frame with
 * no ACK, our adapter echoes our request, then our unit answers. Only our
 * unit's frame reaches the snapshot; the others are foreign.
 */
static void test_foreign_master(void)
{
	struct bms_snapshot ours = sample_state(), unit2 = sample_state(), master = sample_state();
	unit2.voltage_mv = 40000;
	master.voltage_mv = 45000;
	uint8_t line[2048];
	size_t n = 0;
	int m = sim_reply(&unit2, &poll_status, 2, 2, line, sizeof(line), true);
	CU_ASSERT_FATAL(m == 321);
	n += (size_t)m;
	m = sim_reply(&master, &poll_status, 6, 6, line + n, sizeof(line) - n, false);
	CU_ASSERT_FATAL(m == 310);
	n += PB_FRAME; /* the broadcast: no ACK */
	m = sim_reply(&ours, &poll_status, 1, 1, line + n, sizeof(line) - n, true);
	CU_ASSERT_FATAL(m == 321);
	n += (size_t)m;

	void *st = state_new(1);
	uint8_t rq[16];
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, &poll_status, rq, sizeof(rq)) == PB_REQ);
	struct bms_snapshot snap, want;
	memset(&snap, 0, sizeof(snap));
	unsigned foreign = 0;
	CU_ASSERT(feed(st, &poll_status, line, n, &snap, &foreign) == 0);
	/* master's request, unit 2's ACK, our echo (the broadcast is dropped by the echo) */
	CU_ASSERT(foreign == 3);
	CU_ASSERT(snap.voltage_mv == 53224);
	free(st);
	CU_ASSERT(exchange(1, &poll_status, line + n - 310, 310, &want) == 0);
	CU_ASSERT(memcmp(&snap, &want, sizeof(snap)) == 0);

	/* the broadcast right before our ACK-less silence never completes our step */
	CU_ASSERT(exchange(1, &poll_status, line + 321, PB_FRAME, &snap) == -ENODATA);
	CU_ASSERT(snap.valid == 0);
}

/* A frame of another type than the step asked for: another master's exchange. */
static void test_wrong_type(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap, s = sample_state();
	int n = sim_reply(&s, &poll_status, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	buf[4] = 0x01;
	buf[299] = bms_sum8(buf, 299);
	void *st = state_new(1);
	uint8_t rq[16];
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, &poll_status, rq, sizeof(rq)) == PB_REQ);
	memset(&snap, 0, sizeof(snap));
	CU_ASSERT(bms_jkpb.parse(st, &poll_status, buf, PB_FRAME, &snap) == BMS_FOREIGN);
	CU_ASSERT(snap.valid == 0);
	free(st);
}

/*
 * READ (captures): each trigger is built; a data frame is decoded at once
 * (it may have no ACK) and the ACK after it confirms or disowns it. Across
 * the decoder's two passes a frame another unit's ACK followed is foreign
 * before it touches the snapshot.
 */
static void test_read(void)
{
	static const uint16_t regs[] = {PB_TRIG_STATUS, PB_TRIG_SETTINGS, PB_TRIG_ABOUT};
	void *st = state_new(1);
	uint8_t rq[16];
	for (size_t k = 0; k < 3; k++) {
		struct bms_request rd = {.kind = BMS_REQ_READ, .reg = regs[k]};
		CU_ASSERT(bms_jkpb.build_request(st, &rd, rq, sizeof(rq)) == PB_REQ);
		CU_ASSERT(((rq[2] << 8) | rq[3]) == regs[k]);
	}
	struct bms_request bad = {.kind = BMS_REQ_READ, .reg = 0x1622};
	CU_ASSERT(bms_jkpb.build_request(st, &bad, rq, sizeof(rq)) == -EOPNOTSUPP);
	free(st);

	/* capture: unit 2's status + ACK(2), then ours + ACK(1) */
	struct bms_snapshot ours = sample_state(), unit2 = sample_state();
	unit2.voltage_mv = 40000;
	uint8_t cap[1024];
	int a = sim_reply(&unit2, &poll_status, 2, 2, cap, sizeof(cap), false);
	int b = sim_reply(&ours, &poll_status, 1, 1, cap + a, sizeof(cap) - (size_t)a, false);
	CU_ASSERT_FATAL(a == 310 && b == 310);
	struct bms_request rd = {.kind = BMS_REQ_READ, .reg = PB_TRIG_STATUS};
	st = state_new(1);
	for (int pass = 0; pass < 2; pass++) {
		struct bms_snapshot snap;
		memset(&snap, 0, sizeof(snap));
		/* unit 2's data frame */
		CU_ASSERT_FATAL(bms_jkpb.build_request(st, &rd, rq, sizeof(rq)) == PB_REQ);
		int r = bms_jkpb.parse(st, &rd, cap, PB_FRAME, &snap);
		if (pass == 0) {
			CU_ASSERT(r == 1); /* not known yet: decoded */
			CU_ASSERT(snap.voltage_mv == 40000);
		} else {
			CU_ASSERT(r == BMS_FOREIGN); /* learned: never touches the snapshot */
			CU_ASSERT(snap.valid == 0);
		}
		CU_ASSERT(bms_jkpb.parse(st, &rd, cap + 301, PB_ACK, &snap) == BMS_FOREIGN);
		memset(&snap, 0, sizeof(snap));
		CU_ASSERT_FATAL(bms_jkpb.build_request(st, &rd, rq, sizeof(rq)) == PB_REQ);
		CU_ASSERT(bms_jkpb.parse(st, &rd, cap + a, PB_FRAME, &snap) == 1);
		CU_ASSERT(bms_jkpb.parse(st, &rd, cap + a + 301, PB_ACK, &snap) == 0);
		CU_ASSERT(snap.voltage_mv == 53224);
	}
	free(st);

	/* a capture with no ACK at all (BLE): every data frame is decoded, both passes */
	st = state_new(1);
	for (int pass = 0; pass < 2; pass++) {
		struct bms_snapshot snap;
		memset(&snap, 0, sizeof(snap));
		CU_ASSERT_FATAL(bms_jkpb.build_request(st, &rd, rq, sizeof(rq)) == PB_REQ);
		/* first pass: an ACK may follow (1); second: known to stand alone (0) */
		CU_ASSERT(bms_jkpb.parse(st, &rd, cap, PB_FRAME, &snap) == (pass ? 0 : 1));
		CU_ASSERT(snap.voltage_mv == 40000);
		CU_ASSERT_FATAL(bms_jkpb.build_request(st, &rd, rq, sizeof(rq)) == PB_REQ);
		CU_ASSERT(bms_jkpb.parse(st, &rd, cap + a, PB_FRAME, &snap) == (pass ? 0 : 1));
		CU_ASSERT(snap.voltage_mv == 53224);
	}
	free(st);
}

/* T3/T4 at 256/258; 254 (a MOSFET copy in every capture) is not a sensor. */
static void test_temperature_offsets(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap, s = sample_state();
	int n = sim_reply(&s, &poll_status, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	put_u16le(buf + 254, 999);
	put_u16le(buf + 256, 301);
	put_u16le(buf + 258, 302);
	buf[214] = 0x1B; /* MOS, T1, T3, T4 present; T2 absent */
	buf[299] = bms_sum8(buf, 299);
	CU_ASSERT(exchange(1, &poll_status, buf, (size_t)n, &snap) == 0);
	CU_ASSERT(snap.temp_count == 3);
	CU_ASSERT(snap.temp_dc[0] == 134);
	CU_ASSERT(snap.temp_dc[1] == 301);
	CU_ASSERT(snap.temp_dc[2] == 302);
	CU_ASSERT(snap.mosfet_temp_dc == 129);
}

static void test_init_range(void)
{
	void *st = calloc(1, bms_jkpb.state_size);
	CU_ASSERT_FATAL(st != NULL);
	CU_ASSERT(bms_jkpb.init(st, 0) == -EINVAL);
	CU_ASSERT(bms_jkpb.init(st, 16) == -EINVAL);
	CU_ASSERT(bms_jkpb.init(st, 15) == 0);
	free(st);
}

/* Run the settings step, then the status step, on one state. */
static void settings_then_status(const struct bms_snapshot *dev, const uint8_t *settings_patch,
				 size_t patch_off, size_t patch_len, struct bms_snapshot *snap)
{
	uint8_t buf[1024];
	void *st = state_new(1);
	uint8_t rq[16];
	memset(snap, 0, sizeof(*snap));
	int n = sim_reply(dev, &poll_settings, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	if (settings_patch) {
		memcpy(buf + patch_off, settings_patch, patch_len);
		buf[299] = bms_sum8(buf, 299);
	}
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, &poll_settings, rq, sizeof(rq)) == PB_REQ);
	CU_ASSERT(feed(st, &poll_settings, buf, (size_t)n, snap, NULL) == 0);
	n = sim_reply(dev, &poll_status, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, &poll_status, rq, sizeof(rq)) == PB_REQ);
	CU_ASSERT(feed(st, &poll_status, buf, (size_t)n, snap, NULL) == 0);
	free(st);
}

/* Settings 50/62: both limits, each only within 1 mA..1000 A. */
static void test_current_limits(void)
{
	static const struct {
		uint32_t chg, dis;
		bool chg_ok, dis_ok;
	} cases[] = {
		{100000, 150000, true, true},    {0, 150000, false, true},
		{40000, 0, true, false},         {0, 0, false, false},
		{1000000, 1000001, true, false}, {0xFFFFFFFFu, 1, false, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bms_snapshot dev = sample_state(), got;
		uint8_t patch[16];
		memset(patch, 0, sizeof(patch));
		put_u32le(patch, cases[i].chg);
		put_u32le(patch + 12, cases[i].dis);
		settings_then_status(&dev, patch, 50, 16, &got);
		CU_ASSERT(!!(got.valid & BMS_V_MAX_CHARGE_I) == cases[i].chg_ok);
		CU_ASSERT(!!(got.valid & BMS_V_MAX_DISCHARGE_I) == cases[i].dis_ok);
		if (cases[i].chg_ok) {
			CU_ASSERT(got.max_charge_ma == (int32_t)cases[i].chg);
		}
		if (cases[i].dis_ok) {
			CU_ASSERT(got.max_discharge_ma == (int32_t)cases[i].dis);
		}
	}
}

/* Settings 114 + status 214 bits 1..4: the stated counts, once the settings were read. */
static void test_counts(void)
{
	struct bms_snapshot dev = sample_state(), got;
	uint8_t patch[4];
	put_u32le(patch, 16);
	settings_then_status(&dev, patch, 114, 4, &got);
	CU_ASSERT(got.valid & BMS_V_COUNTS);
	CU_ASSERT(got.cells_reported == 16);
	CU_ASSERT(got.temps_reported == 4);
	/* a configured count other than the cells listed is reported as stated */
	put_u32le(patch, 15);
	settings_then_status(&dev, patch, 114, 4, &got);
	CU_ASSERT(got.cells_reported == 15 && got.cell_count == 16);
	/* more cells than any snapshot holds: the settings frame is impossible */
	put_u32le(patch, BMS_MAX_CELLS + 1);
	{
		uint8_t buf[1024];
		int n = sim_reply(&dev, &poll_settings, 1, 1, buf, sizeof(buf), false);
		memcpy(buf + 114, patch, 4);
		buf[299] = bms_sum8(buf, 299);
		struct bms_snapshot snap;
		CU_ASSERT(exchange(1, &poll_settings, buf, (size_t)n, &snap) == -EPROTO);
	}
	/* status alone (settings not read yet): no counts */
	uint8_t buf[1024];
	int n = sim_reply(&dev, &poll_status, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT(exchange(1, &poll_status, buf, (size_t)n, &got) == 0);
	CU_ASSERT(!(got.valid & BMS_V_COUNTS));
	/* sensor bits: MOS + T1 + T4 + T5 -> two listed, two counted */
	dev.temp_count = 0;
	n = sim_reply(&dev, &poll_settings, 1, 1, buf, sizeof(buf), false);
	void *st = state_new(1);
	uint8_t rq[16];
	memset(&got, 0, sizeof(got));
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, &poll_settings, rq, sizeof(rq)) == PB_REQ);
	CU_ASSERT(feed(st, &poll_settings, buf, (size_t)n, &got, NULL) == 0);
	n = sim_reply(&dev, &poll_status, 1, 1, buf, sizeof(buf), false);
	buf[214] = 0x01 | 0x02 | 0x10 | 0x20;
	buf[299] = bms_sum8(buf, 299);
	CU_ASSERT_FATAL(bms_jkpb.build_request(st, &poll_status, rq, sizeof(rq)) == PB_REQ);
	CU_ASSERT(feed(st, &poll_status, buf, (size_t)n, &got, NULL) == 0);
	CU_ASSERT(got.temp_count == 2 && got.temps_reported == 2);
	free(st);
}

/* Settings and about are static data: asked once, settings refreshed. */
static void test_static_steps(void)
{
	CU_ASSERT_FATAL(bms_jkpb.nsteps == 2);
	const struct bms_step *s = bms_jkpb.steps;
	CU_ASSERT(s[0].flags & BMS_STEP_STATIC);
	CU_ASSERT(s[0].refresh > 1);
	CU_ASSERT((s[0].fills & (BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I)) ==
		  (BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I));
	CU_ASSERT(s[1].flags & BMS_STEP_STATIC);
	CU_ASSERT(s[1].fills & BMS_V_SERIAL);
	/* the cycle order the steps describe */
	uint8_t rq[16];
	void *st = state_new(1);
	CU_ASSERT(bms_jkpb.build_request(st, &poll_settings, rq, sizeof(rq)) == PB_REQ);
	CU_ASSERT(((rq[2] << 8) | rq[3]) == PB_TRIG_SETTINGS);
	CU_ASSERT(bms_jkpb.build_request(st, &poll_about, rq, sizeof(rq)) == PB_REQ);
	CU_ASSERT(((rq[2] << 8) | rq[3]) == PB_TRIG_ABOUT);
	CU_ASSERT(bms_jkpb.build_request(st, &poll_status, rq, sizeof(rq)) == PB_REQ);
	CU_ASSERT(((rq[2] << 8) | rq[3]) == PB_TRIG_STATUS);
	struct bms_request end = {.kind = BMS_REQ_POLL, .step = 3, .cycle = 1};
	CU_ASSERT(bms_jkpb.build_request(st, &end, rq, sizeof(rq)) == 0);
	free(st);

	struct bms_held h;
	bms_held_reset(&h);
	struct bms_snapshot snap = sample_state();
	snap.valid = ~0u;
	bms_held_next_cycle(&h);
	CU_ASSERT(bms_step_due(&bms_jkpb, 0, &h) && bms_step_due(&bms_jkpb, 1, &h));
	bms_held_keep(&bms_jkpb, 0, &h, &snap);
	bms_held_keep(&bms_jkpb, 1, &h, &snap);
	unsigned settings = 0, about = 0, status = 0;
	for (unsigned c = 2; c <= 3 * s[0].refresh; c++) {
		bms_held_next_cycle(&h);
		settings += bms_step_due(&bms_jkpb, 0, &h);
		about += bms_step_due(&bms_jkpb, 1, &h);
		status += bms_step_due(&bms_jkpb, 2, &h);
	}
	CU_ASSERT(settings == 3);
	CU_ASSERT(about == 0);
	CU_ASSERT(status == 3 * s[0].refresh - 1);
}

/* Every bit of the alarm word (166) alone: exactly the documented alarm. */
static void test_alarm_bits(void)
{
	static const struct {
		int alarm; /* -1: decode only */
		uint8_t level;
	} want[32] = {
		{BMS_ALARM_INTERNAL_FAILURE, 1},
		{BMS_ALARM_HIGH_INTERNAL_TEMPERATURE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{BMS_ALARM_HIGH_CELL_VOLTAGE, 2},
		{BMS_ALARM_HIGH_VOLTAGE, 2},
		{BMS_ALARM_HIGH_CHARGE_CURRENT, 2},
		{BMS_ALARM_HIGH_CURRENT, 2},
		{BMS_ALARM_HIGH_CHARGE_TEMPERATURE, 2},
		{BMS_ALARM_LOW_CHARGE_TEMPERATURE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{BMS_ALARM_LOW_CELL_VOLTAGE, 2},
		{BMS_ALARM_LOW_VOLTAGE, 2},
		{BMS_ALARM_HIGH_DISCHARGE_CURRENT, 2},
		{BMS_ALARM_HIGH_CURRENT, 2},
		{BMS_ALARM_HIGH_TEMPERATURE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{-1, 0},
		{-1, 0},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{BMS_ALARM_HIGH_TEMPERATURE, 1},
		{BMS_ALARM_INTERNAL_FAILURE, 2},
		{BMS_ALARM_INTERNAL_FAILURE, 1},
		{-1, 0},
		{-1, 0},
		{-1, 0},
		{-1, 0},
		{-1, 0},
		{-1, 0},
		{-1, 0},
		{-1, 0},
	};
	struct bms_snapshot s = sample_state();
	memset(s.alarm, 0, sizeof(s.alarm));
	uint8_t buf[1024];
	int n = sim_reply(&s, &poll_status, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	for (unsigned bit = 0; bit < 32; bit++) {
		put_u32le(buf + 166, 1u << bit);
		buf[299] = bms_sum8(buf, 299);
		struct bms_snapshot got;
		CU_ASSERT_FATAL(exchange(1, &poll_status, buf, (size_t)n, &got) == 0);
		CU_ASSERT(got.valid & BMS_V_ALARMS);
		for (int a = 0; a < BMS_ALARM_COUNT; a++) {
			uint8_t lvl = a == want[bit].alarm ? want[bit].level : 0;
			if (got.alarm[a] != lvl)
				fprintf(stderr, "\n    bit %u: alarm %s = %u, want %u\n", bit,
					bms_alarm_name((enum bms_alarm)a), got.alarm[a], lvl);
			CU_ASSERT(got.alarm[a] == lvl);
		}
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(bms_jkpb_describe(buf, PB_FRAME, &d) == 0);
		bool found = false;
		for (unsigned k = 0; k < d.n; k++)
			if (!strcmp(d.items[k].key, "alarm_bits"))
				found = d.items[k].num == (double)(1u << bit);
		CU_ASSERT(found);
	}
}

static bool snapshot_key(const char *key)
{
	unsigned tn;
	char tail[8];
	static const char *const derived[] = {"min_cell_v", "max_cell_v", "min_cell_no",
					      "max_cell_no", NULL};
	return bms_field_by_key(key) || dc_key_in(key, derived) ||
	       (sscanf(key, "temp%u_%7s", &tn, tail) == 2 && !strcmp(tail, "c"));
}

static const struct bms_desc_item *item(const struct bms_frame_desc *d, const char *key)
{
	for (unsigned j = 0; j < d->n; j++)
		if (!strcmp(d->items[j].key, key))
			return &d->items[j];
	return NULL;
}

/* describe() of every vector frame: direction, command, and each expected
 * value that is no snapshot field as an item of the same key and value. */
static void test_describe_vectors(void)
{
	size_t nvec;
	const struct vec *v = dc_vectors(&nvec);
	unsigned described = 0;
	for (size_t i = 0; i < nvec; i++) {
		if (strcmp(v[i].protocol, "jkpb"))
			continue;
		uint8_t f[PB_FRAME];
		int n = vec_hex(v[i].hex, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		struct bms_frame_desc d;
		CU_ASSERT_FATAL(bms_jkpb_describe(f, (size_t)n, &d) == 0);
		bool request = !strcmp(v[i].direction, "request");
		CU_ASSERT(d.dir == (request ? BMS_DIR_REQUEST : BMS_DIR_REPLY));
		if (request) {
			CU_ASSERT(d.command == ((f[2] << 8) | f[3]) && d.address == f[0]);
		} else {
			CU_ASSERT(d.command == pb_trigger_of(f[4]) && d.address == -1);
		}
		for (unsigned k = 0; k < v[i].nexpect; k++) {
			const struct vec_expect *e = &v[i].expect[k];
			const struct bms_desc_item *it = item(&d, e->key);
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
	CU_ASSERT(described == dc_count(&bms_jkpb, "request") + dc_count(&bms_jkpb, "response"));

	/* the settings frame (no capture of one): its fields as items */
	struct bms_snapshot s = sample_state();
	uint8_t buf[1024];
	int n = sim_reply(&s, &poll_settings, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	put_u32le(buf + 10, 2800);
	put_u32le(buf + 82, (uint32_t)-50);
	buf[284] = (uint8_t)-5;
	buf[299] = bms_sum8(buf, 299);
	struct bms_frame_desc d;
	CU_ASSERT_FATAL(bms_jkpb_describe(buf, PB_FRAME, &d) == 0);
	CU_ASSERT(d.command == PB_TRIG_SETTINGS && !strcmp(d.name, "settings"));
	const struct bms_desc_item *it = item(&d, "cell_uvp_v");
	CU_ASSERT(it && fabs(it->num - 2.8) < 1e-9);
	it = item(&d, "charge_otp_c");
	CU_ASSERT(it && fabs(it->num + 5.0) < 1e-9);
	/* the heater settings are snapshot fields (test_heater), no items */
	CU_ASSERT_PTR_NULL(item(&d, "heating_start_c"));
	it = item(&d, "max_charge_setting_a");
	CU_ASSERT(it && fabs(it->num - 100.0) < 1e-9);
	it = item(&d, "cell_count_setting");
	CU_ASSERT(it && it->num == 16);
	CU_ASSERT(d.n < BMS_DESC_ITEMS); /* nothing dropped */
	/* a data frame of an unknown type is not one the protocol defines */
	buf[4] = 0x05;
	buf[299] = bms_sum8(buf, 299);
	CU_ASSERT(bms_jkpb_describe(buf, PB_FRAME, &d) == -1);
}

/*
 * `serialbattery decode` of a long capture of a shared bus (issue item 6):
 * rounds of a master pack triggering unit 2 (its data and ACK), the master
 * broadcasting its own status (no ACK), and our exchange with unit 1 (the
 * adapter's echo, data, ACK). Every other unit's frame differs from round to
 * round; none reaches the decoded snapshot of unit 1, and unit 2 decodes
 * alone when asked for.
 */
static void test_decode_shared_bus(void)
{
	enum { ROUNDS = 30 };
	size_t cap = ROUNDS * 1000;
	uint8_t *line = malloc(cap);
	CU_ASSERT_FATAL(line != NULL);
	size_t n = 0;
	struct bms_snapshot ours = sample_state();
	for (unsigned i = 0; i < ROUNDS; i++) {
		struct bms_snapshot unit2 = sample_state(), master = sample_state();
		unit2.voltage_mv = 40000 + (int32_t)i;
		master.voltage_mv = 45000 + (int32_t)i;
		int m = sim_reply(&unit2, &poll_status, 2, 2, line + n, cap - n, true);
		CU_ASSERT_FATAL(m == 321);
		n += (size_t)m;
		m = sim_reply(&master, &poll_status, 3, 3, line + n, cap - n, false);
		CU_ASSERT_FATAL(m == 310);
		n += PB_FRAME; /* the broadcast: no ACK */
		m = sim_reply(&ours, &poll_status, 1, 1, line + n, cap - n, true);
		CU_ASSERT_FATAL(m == 321);
		n += (size_t)m;
	}
	struct decode_segment seg = {line, n};
	struct decode_result res;
	CU_ASSERT_FATAL(decode_capture(&bms_jkpb, 1, &seg, 1, NULL, &res) == 0);
	CU_ASSERT(res.snap.voltage_mv == 53224);
	CU_ASSERT(res.replies_decoded == ROUNDS);
	/* unit 2's data and ACK, the broadcasts */
	CU_ASSERT(res.foreign == 3 * ROUNDS);
	CU_ASSERT(res.refused == 0 && res.checksum_errors == 0);
	CU_ASSERT(res.requests == 2 * ROUNDS);

	CU_ASSERT_FATAL(decode_capture(&bms_jkpb, 2, &seg, 1, NULL, &res) == 0);
	CU_ASSERT(res.snap.voltage_mv == 40000 + ROUNDS - 1);
	CU_ASSERT(res.replies_decoded == ROUNDS);
	free(line);
}

/*
 * The heater: status 215 (heating) and 236 (heater current, s16 mA), settings
 * 282 bit 0 (enabled) and 284/285 (start/stop, s8 degC) into the snapshot; a
 * heater current beyond -0.5..30 A is left out, the rest of the frame kept.
 */
static void test_heater(void)
{
	struct bms_snapshot dev = sample_state(), got;
	settings_then_status(&dev, NULL, 0, 0, &got);
	CU_ASSERT((got.valid & (BMS_V_HEATING | BMS_V_HEATER_CURRENT | BMS_V_HEATER_SETTINGS)) ==
		  (BMS_V_HEATING | BMS_V_HEATER_CURRENT | BMS_V_HEATER_SETTINGS));
	CU_ASSERT(got.heating && got.heating_enabled);
	CU_ASSERT_EQUAL(got.heater_current_ma, 2350);
	CU_ASSERT_EQUAL(got.heating_start_dc, -50);
	CU_ASSERT_EQUAL(got.heating_stop_dc, 50);

	/* the bytes themselves, as protocols.md places them */
	uint8_t buf[1024];
	int n = sim_reply(&dev, &poll_settings, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	CU_ASSERT(buf[282] == 1 && buf[284] == 0xFB && buf[285] == 5);
	/* other control bits do not switch the heater on; a heater bit among them does */
	put_u16le(buf + 282, 0x03FE);
	buf[284] = 0x80; /* -128 degC: the s8 end */
	buf[285] = 0x7F;
	buf[299] = bms_sum8(buf, 299);
	struct bms_snapshot snap;
	CU_ASSERT(exchange(1, &poll_settings, buf, (size_t)n, &snap) == 0);
	CU_ASSERT((snap.valid & BMS_V_HEATER_SETTINGS) && !snap.heating_enabled);
	CU_ASSERT(snap.heating_start_dc == -1280 && snap.heating_stop_dc == 1270);
	put_u16le(buf + 282, 0x0009);
	buf[299] = bms_sum8(buf, 299);
	CU_ASSERT(exchange(1, &poll_settings, buf, (size_t)n, &snap) == 0);
	CU_ASSERT(snap.heating_enabled);

	n = sim_reply(&dev, &poll_status, 1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	CU_ASSERT(buf[215] == 1 && buf[236] == 0x2E && buf[237] == 0x09);
	static const struct {
		uint8_t heating;
		int16_t ma;
		bool ok;
	} cases[] = {
		{0, 0, true},     {0, -500, true},   {0x01, 30000, true},   {0xFF, 1, true},
		{0, -501, false}, {1, 30001, false}, {1, INT16_MIN, false}, {1, INT16_MAX, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf[215] = cases[i].heating;
		put_u16le(buf + 236, (uint16_t)cases[i].ma);
		buf[299] = bms_sum8(buf, 299);
		CU_ASSERT_FATAL(exchange(1, &poll_status, buf, (size_t)n, &snap) == 0);
		CU_ASSERT(snap.valid & BMS_V_HEATING);
		CU_ASSERT(snap.heating == (cases[i].heating != 0));
		CU_ASSERT(!!(snap.valid & BMS_V_HEATER_CURRENT) == cases[i].ok);
		if (cases[i].ok) {
			CU_ASSERT(snap.heater_current_ma == cases[i].ma);
		}
		/* the rest of the frame is no less valid for it */
		CU_ASSERT(snap.voltage_mv == dev.voltage_mv && (snap.valid & BMS_V_VOLTAGE));
	}
}

/* ---- property test (issue item 7) ---- */

static void rnd_str(char *out, size_t maxlen)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
	size_t len = (size_t)dc_xrnd_in(1, (int32_t)maxlen);
	for (size_t i = 0; i < len; i++)
		out[i] = set[dc_xrnd() % (sizeof(set) - 1)];
	out[len] = '\0';
}

#define PROP_VALID                                                                                 \
	(BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |  \
	 BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |            \
	 BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING | BMS_V_BALANCER | BMS_V_ALARMS |        \
	 BMS_V_SERIAL | BMS_V_MODEL | BMS_V_HW_VERSION | BMS_V_SW_VERSION | BMS_V_COUNTS |         \
	 BMS_V_HEATING | BMS_V_HEATER_CURRENT | BMS_V_HEATER_SETTINGS)

/* A random battery state, quantised to what the PB frames carry. */
static struct bms_snapshot random_state(uint32_t *ret_valid)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	uint32_t v = PROP_VALID;
	s.cell_count = (uint8_t)dc_xrnd_in(1, BMS_MAX_CELLS);
	for (unsigned i = 0; i < s.cell_count; i++)
		s.cell_mv[i] = (uint16_t)dc_xrnd_in(2500, 4200);
	s.voltage_mv = dc_xrnd_in(s.cell_count * 2500, s.cell_count * 4200);
	int32_t ma = dc_xrnd_in(0, 300000);
	s.current_ma = dc_xrnd() & 1 ? ma : -ma;
	s.power_mw = (int64_t)s.voltage_mv * s.current_ma / 1000; /* the sign of the current */
	s.soc_cpct = (uint16_t)(dc_xrnd_in(0, 100) * 100);
	s.soh_cpct = (uint16_t)(dc_xrnd_in(0, 100) * 100);
	s.capacity_full_mah = dc_xrnd_in(1000, 1000000);
	s.capacity_remain_mah = dc_xrnd_in(0, s.capacity_full_mah);
	s.capacity_design_mah = dc_xrnd_in(1000, 1000000);
	s.cycles = (uint32_t)dc_xrnd_in(0, 100000);
	s.temp_count = (uint8_t)dc_xrnd_in(0, 4); /* T1..T4 */
	for (unsigned t = 0; t < s.temp_count; t++)
		s.temp_dc[t] = (int16_t)dc_xrnd_in(-200, 600); /* 0.1 degC */
	s.mosfet_temp_dc = (int16_t)dc_xrnd_in(-200, 600);
	s.charge_fet = dc_xrnd() & 1;
	s.discharge_fet = dc_xrnd() & 1;
	s.balancer_enabled = dc_xrnd() & 1;
	/* balancing: none, or the pair (one or two cells) the active balancer works on */
	if (dc_xrnd() & 1) {
		s.balancing |= 1u << (dc_xrnd() % s.cell_count);
		s.balancing |= 1u << (dc_xrnd() % s.cell_count);
	}
	for (size_t k = 0; k < PB_NALARM; k++)
		if (dc_xrnd() % 8 == 0)
			s.alarm[pb_alarm_map[k].alarm] = pb_alarm_map[k].level;
	s.max_charge_ma = dc_xrnd() % 8 ? dc_xrnd_in(1, (int32_t)PB_LIMIT_MAX_MA) : 0;
	s.max_discharge_ma = dc_xrnd() % 8 ? dc_xrnd_in(1, (int32_t)PB_LIMIT_MAX_MA) : 0;
	if (s.max_charge_ma)
		v |= BMS_V_MAX_CHARGE_I;
	if (s.max_discharge_ma)
		v |= BMS_V_MAX_DISCHARGE_I;
	rnd_str(s.model, 16);
	rnd_str(s.hw_version, 8);
	rnd_str(s.sw_version, 8);
	rnd_str(s.serial, 16);
	s.cells_reported = (uint8_t)dc_xrnd_in(1, BMS_MAX_CELLS); /* settings 114 */
	s.temps_reported = s.temp_count;                          /* the presence bits */
	s.heating = dc_xrnd() & 1;
	s.heater_current_ma = s.heating ? dc_xrnd_in(0, 30000) : dc_xrnd_in(-500, 0);
	s.heating_enabled = dc_xrnd() & 1;
	s.heating_start_dc = (int16_t)(dc_xrnd_in(-40, 20) * 10); /* whole degrees on the wire */
	s.heating_stop_dc = (int16_t)(dc_xrnd_in(-20, 40) * 10);
	s.valid = v;
	*ret_valid = v;
	return s;
}

/*
 * Issue item 7: random states (1-32 cells, -20..60 degC, both current
 * directions, FETs on/off, limits set and not) through the simulator, one
 * poll cycle (settings, about, status with their ACKs) joined into a capture
 * and decoded by the decode engine, give the same state, at any address.
 */
static void test_property(void)
{
	dc_xrnd_seed(0x50423135u); /* "PB15" */
	struct dc_coverage c;
	dc_check_property_cov(&bms_jkpb, 600, 1, PB_ADDR_MAX, random_state, &c);
	CU_ASSERT(c.ok == 600);
	CU_ASSERT(c.charging > 100 && c.discharging > 100 && c.fets_off > 100 && c.no_limit > 10);
	CU_ASSERT(c.max_cells > 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"sim_roundtrip", test_sim_roundtrip},
		{"echo_and_ack", test_echo_and_ack},
		{"frame_kinds", test_frame_kinds},
		{"ack_matching", test_ack_matching},
		{"foreign_master", test_foreign_master},
		{"wrong_type", test_wrong_type},
		{"read", test_read},
		{"temperature_offsets", test_temperature_offsets},
		{"init_range", test_init_range},
		{"current_limits", test_current_limits},
		{"counts", test_counts},
		{"static_steps", test_static_steps},
		{"alarm_bits", test_alarm_bits},
		{"describe_vectors", test_describe_vectors},
		{"decode_shared_bus", test_decode_shared_bus},
		{"heater", test_heater},
		{"property", test_property},
		{NULL, NULL},
	};
	return sb_add_suite("jkpb", tests);
}
