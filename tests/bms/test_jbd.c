/* SPDX-License-Identifier: MIT */
/* JBD 0xDD driver: captured vectors, frame check conformance, requests, simulator round trip,
 * the 0xE1 MOSFET write. */
#include <errno.h>
#include <string.h>

#include "bms/bms.h"
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

static enum dc_map num(struct dc_value *ret, double v)
{
	ret->kind = VEC_NUM;
	ret->num = v;
	return DC_MAPPED;
}

static enum dc_map jbd_map(const char *key, const struct bms_snapshot *s, const uint8_t *frame,
			   size_t len, struct dc_value *ret)
{
	/* register 0xAA: the protection event counters, in enum bms_prot order */
	for (unsigned i = 0; len > 1 && frame[1] == 0xAA && i < BMS_PROT_COUNT; i++)
		if (!strcmp(key, bms_prot_name((enum bms_prot)i)))
			return (s->valid & BMS_V_PROT_EVENTS) ? num(ret, s->prot_events[i])
							      : DC_UNKNOWN;
	if (!strcmp(key, "capacity_nominal_ah"))
		return (s->valid & BMS_V_CAP_DESIGN) ? num(ret, s->capacity_design_mah / 1000.0)
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
			       ? num(ret, (s->charge_fet ? 1 : 0) + (s->discharge_fet ? 2 : 0))
			       : DC_UNKNOWN;
	if (!strcmp(key, "balance_bits_low"))
		return (s->valid & BMS_V_BALANCING) ? num(ret, s->balancing & 0xFFFF) : DC_UNKNOWN;
	if (!strcmp(key, "protection_bits")) {
		if (!(s->valid & BMS_V_ALARMS))
			return DC_UNKNOWN;
		unsigned bits = 0;
		for (unsigned b = 0; b < sizeof(prot_alarm); b++)
			if (s->alarm[prot_alarm[b]] == 2)
				bits |= 1u << b;
		return num(ret, bits);
	}
	/* the NTC count the frame states, and the sensors it sent agree */
	if (!strcmp(key, "ntc_count")) {
		if (!(s->valid & BMS_V_TEMPS) || !(s->valid & BMS_V_COUNTS) ||
		    s->temps_reported != s->temp_count + ((s->valid & BMS_V_MOSFET_TEMP) ? 1 : 0))
			return DC_UNKNOWN;
		return num(ret, s->temps_reported);
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
			       ? num(ret, (cs.cell_max_mv - cs.cell_min_mv) / 1000.0)
			       : DC_UNKNOWN;
	}
	/*
	 * 0x03's cell count is the configured string count, reported as such
	 * (cells_reported); the cell list (cell_count) is 0x04's.
	 */
	if (!strcmp(key, "cell_count") && len > 1 && frame[1] == 0x03)
		return (s->valid & BMS_V_COUNTS) && !(s->valid & BMS_V_CELLS)
			       ? num(ret, s->cells_reported)
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
		{NULL, NULL},
	};
	return sb_add_suite("jbd", tests);
}
