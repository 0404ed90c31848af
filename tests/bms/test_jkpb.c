/* SPDX-License-Identifier: MIT */
/* JK PB RS485 driver: vectors, frame check conformance, ACK matching, echo, simulator. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bms/bms.h"
#include "bms/bytes.h"
#include "bms/sim/sim.h"
#include "tests/bms/driver_checks.h"
#include "tests/support/cunit_main.h"

extern const struct bms_driver bms_jkpb;

static const struct bms_request poll0 = {.kind = BMS_REQ_POLL, .cycle = 1};

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
	static const char *const skip[] = {"heating", "runtime_s", "uptime_s", "power_on_count",
					   NULL};
	if (dc_key_in(key, skip))
		return DC_SKIP;
	return DC_UNKNOWN;
}

static void test_vectors(void)
{
	CU_ASSERT(dc_check_vectors(&bms_jkpb, 1, pb_map) == dc_count(&bms_jkpb, "response"));
}

static void test_requests(void)
{
	CU_ASSERT(dc_check_requests(&bms_jkpb, 1) == 3);
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
	return s;
}

#define ALL_VALID                                                                                  \
	(BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_POWER | BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_REMAIN |  \
	 BMS_V_CAP_FULL | BMS_V_CAP_DESIGN | BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS |            \
	 BMS_V_MOSFET_TEMP | BMS_V_FETS | BMS_V_BALANCING | BMS_V_BALANCER | BMS_V_ALARMS |        \
	 BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_SERIAL | BMS_V_MODEL |                 \
	 BMS_V_HW_VERSION | BMS_V_SW_VERSION)

static void test_sim_roundtrip(void)
{
	struct bms_snapshot s = sample_state();
	dc_check_sim_roundtrip(&bms_jkpb, 1, &s, ALL_VALID);
	dc_check_sim_roundtrip(&bms_jkpb, 15, &s, ALL_VALID);
	s.balancing = 0;
	s.current_ma = 5000;
	s.power_mw = 266120;
	dc_check_sim_roundtrip(&bms_jkpb, 7, &s, ALL_VALID);
}

/* One exchange: request for step 0 at addr, reply bytes as given. */
static int exchange(uint8_t addr, const uint8_t *reply, size_t n, struct bms_snapshot *snap)
{
	struct {
		uint8_t raw[64];
	} st;
	uint8_t req[16];
	CU_ASSERT_FATAL(bms_jkpb.state_size <= sizeof(st));
	memset(&st, 0, sizeof(st));
	CU_ASSERT_FATAL(bms_jkpb.init(&st, addr) == 0);
	CU_ASSERT_FATAL(bms_jkpb.build_request(&st, &poll0, req, sizeof(req)) == 11);
	memset(snap, 0, sizeof(*snap));
	return dc_feed(&bms_jkpb, &st, &poll0, reply, n, snap);
}

static int sim_reply(uint8_t req_addr, uint8_t sim_addr, uint8_t *out, size_t cap, bool echo)
{
	struct {
		uint8_t raw[64];
	} st;
	uint8_t req[16];
	struct bms_snapshot s = sample_state();
	memset(&st, 0, sizeof(st));
	CU_ASSERT_FATAL(bms_jkpb.init(&st, req_addr) == 0);
	int n = bms_jkpb.build_request(&st, &poll0, req, sizeof(req));
	size_t off = 0;
	if (echo) {
		memcpy(out, req, (size_t)n);
		off = (size_t)n;
	}
	int m = bms_sim_respond(&bms_jkpb, &s, sim_addr, req, (size_t)n, out + off, cap - off);
	return m <= 0 ? m : (int)off + m;
}

/* The adapter echoes the 11 request bytes before the reply: still one clean step. */
static void test_echo_and_ack(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap;
	int n = sim_reply(3, 3, buf, sizeof(buf), true);
	CU_ASSERT_FATAL(n == 11 + 310);
	CU_ASSERT(exchange(3, buf, (size_t)n, &snap) == 0);
	CU_ASSERT(snap.voltage_mv == 53224);
	CU_ASSERT(snap.current_ma == -31881);

	/* the echo alone: garbage, never a frame */
	size_t start, len;
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf, 11, &start, &len) == BMS_FIND_INVALID);
	/* data frame, then the trailing 00 + ACK + 00: ACK found after the stray byte */
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 11, 310, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 0 && len == 300);
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 311, 10, &start, &len) == BMS_FIND_VALID);
	CU_ASSERT(start == 1 && len == 8);
	/* the ACK cut short: NEED_MORE where it starts */
	CU_ASSERT(bms_frame_find(&bms_jkpb, buf + 311, 5, &start, &len) == BMS_FIND_NEED_MORE);
	CU_ASSERT(start == 1);
	/* without the ACK the step is not complete: the sender is unknown */
	CU_ASSERT(exchange(3, buf + 11, 300, &snap) == 1);
}

/* A reply whose ACK names another unit is refused; so is a bad ACK CRC. */
static void test_ack_matching(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap;
	int n = sim_reply(4, 4, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	CU_ASSERT(exchange(4, buf, (size_t)n, &snap) == 0);
	CU_ASSERT(exchange(5, buf, (size_t)n, &snap) == -EPROTO);
	/* the simulator at 4 ignores a request to 5 */
	CU_ASSERT(sim_reply(5, 4, buf, sizeof(buf), false) == 0);
	/* corrupt the ACK CRC: the step never completes */
	n = sim_reply(4, 4, buf, sizeof(buf), false);
	buf[301 + 7] ^= 0x5a;
	CU_ASSERT(exchange(4, buf, (size_t)n, &snap) == 1);
	/* unit 5's data and ACK, then a lone ACK of unit 4: unit 5's data is not taken
	 * for unit 4's (the worker skips the refused frame and keeps reading) */
	uint8_t mix[1024];
	int m5 = sim_reply(5, 5, mix, sizeof(mix), false);
	CU_ASSERT_FATAL(m5 == 310);
	n = sim_reply(4, 4, buf, sizeof(buf), false);
	memcpy(mix + m5, buf + 300, 10); /* 00 + ACK(4) + 00 */
	{
		struct {
			uint8_t raw[64];
		} st;
		uint8_t req[16];
		memset(&st, 0, sizeof(st));
		CU_ASSERT_FATAL(bms_jkpb.init(&st, 4) == 0);
		CU_ASSERT_FATAL(bms_jkpb.build_request(&st, &poll0, req, sizeof(req)) == 11);
		size_t pos = 0, start, len;
		int last = -1;
		while (pos < (size_t)m5 + 10 &&
		       bms_frame_find(&bms_jkpb, mix + pos, (size_t)m5 + 10 - pos, &start, &len) ==
			       BMS_FIND_VALID) {
			last = bms_jkpb.parse(&st, &poll0, mix + pos + start, len, &snap);
			CU_ASSERT(last != 0);
			pos += start + len;
		}
		CU_ASSERT(last == -EPROTO);
	}
	/* an ACK with no data frame before it */
	n = sim_reply(4, 4, buf, sizeof(buf), false);
	CU_ASSERT(exchange(4, buf + 300, (size_t)n - 300, &snap) == -EPROTO);
}

/* A frame of the wrong type for the step (settings while asking status). */
static void test_wrong_type(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap;
	int n = sim_reply(1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	buf[4] = 0x01;
	buf[299] = bms_sum8(buf, 299);
	CU_ASSERT(exchange(1, buf, (size_t)n, &snap) == -EPROTO);
}

/* T3/T4 at 256/258; 254 (a MOSFET copy in every capture) is not a sensor. */
static void test_temperature_offsets(void)
{
	uint8_t buf[1024];
	struct bms_snapshot snap;
	int n = sim_reply(1, 1, buf, sizeof(buf), false);
	CU_ASSERT_FATAL(n == 310);
	put_u16le(buf + 254, 999);
	put_u16le(buf + 256, 301);
	put_u16le(buf + 258, 302);
	buf[214] = 0x1B; /* MOS, T1, T3, T4 present; T2 absent */
	buf[299] = bms_sum8(buf, 299);
	CU_ASSERT(exchange(1, buf, (size_t)n, &snap) == 0);
	CU_ASSERT(snap.temp_count == 3);
	CU_ASSERT(snap.temp_dc[0] == 134);
	CU_ASSERT(snap.temp_dc[1] == 301);
	CU_ASSERT(snap.temp_dc[2] == 302);
	CU_ASSERT(snap.mosfet_temp_dc == 129);
}

static void test_init_range(void)
{
	uint8_t st[64];
	CU_ASSERT(bms_jkpb.init(st, 0) == -EINVAL);
	CU_ASSERT(bms_jkpb.init(st, 16) == -EINVAL);
	CU_ASSERT(bms_jkpb.init(st, 15) == 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"vectors", test_vectors},
		{"requests", test_requests},
		{"sim_roundtrip", test_sim_roundtrip},
		{"echo_and_ack", test_echo_and_ack},
		{"ack_matching", test_ack_matching},
		{"wrong_type", test_wrong_type},
		{"temperature_offsets", test_temperature_offsets},
		{"init_range", test_init_range},
		{NULL, NULL},
	};
	return sb_add_suite("jkpb", tests);
}
