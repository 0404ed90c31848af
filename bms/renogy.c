/* SPDX-License-Identifier: MIT */
/*
 * Renogy smart lithium batteries (RBT100LFP12-BT, RBT100LFP12SH-G1, ...),
 * Modbus RTU function 0x03 over RS485 (docs/PROTOCOLS.md "Renogy";
 * reference: protocols.md section 8).
 *
 * Link: 9600 8N1. Unit address 0x30 on most packs, 0xF7 on some: both are
 * tried; any unit address 1..247 can be configured or scanned.
 *
 * Frame layout (the Modbus module's, bms/modbus_rtu.h):
 *   request  addr 03 start(2) count(2) crc(2)           8 bytes
 *   reply    addr 03 bytes(1) data[bytes] crc(2)        5 + bytes
 *   refused  addr 83 code crc(2)                        5 bytes
 * Registers big-endian, 32-bit values high word first; CRC-16/Modbus over
 * everything before it, low byte first.
 *
 * Sample (pack 0x30, status block 5042..5048):
 *   request  30 03 13 B2 00 07 A4 8A
 *   reply    30 03 0E FF AA 00 88 00 01 7B B0 00 01 86 A0 00 0F E0 1E
 *            -> -0.86 A, 13.6 V, 97.2 of 100 Ah, 15 cycles
 *
 * Blocks read (register numbers decimal):
 *   5122 x8   model, 16 ASCII ("RBT100LFP12-BT")        probe; static step
 *   5042 x7   current s16 0.01 A (+ = charging), voltage 0.1 V, remaining
 *             u32 mAh, full u32 mAh, cycles
 *   5000 x34  cell count, 16 cells in 0.1 V, sensor count, 16 sensors s16
 *             0.1 degC
 *   5100 x8   cell voltage alarms (2), cell temperature alarms (2), other
 *             alarms, status 1..3: 5106 low byte bit 1 charge MOSFET, bit 2
 *             discharge MOSFET; 5107 high byte bit 5 heater
 *   5104 x28  ... serial 5110 (16 ASCII), model 5122, software version
 *             5130 (4 ASCII); static step
 *
 * Decisions:
 * - Detection rests on what only a Renogy sends: the probe reads the model
 *   string at 5122, which must be printable text starting with a letter or
 *   digit. Another family's registers there (binary numbers, or no answer:
 *   Seplos v3, EG4 LL and JBD UP16S keep their maps far below 5000, and
 *   UP16S does not speak function 0x03) are refused; the unit addresses
 *   0x30/0xF7 are outside the DIP ranges of those families (0..16). The
 *   status block is held to remaining <= full and a full capacity above 0,
 *   the cell block to 1..16 cells and at most 16 sensors.
 * - Both 8-register blocks (model 5122 and alarms 5100) have the same
 *   reply shape; the model step refuses a reply that is no text, so an
 *   alarm reply never passes for a model (and a capture's alarm reply is
 *   tried against the alarm step next).
 * - SOC is not sent: remaining / full, rounded down (never overstated).
 * - Cell voltages come in 0.1 V (the fact sheet and aiobmsble agree): the
 *   snapshot holds them in mV, multiples of 100.
 * - Sensors: the cell sensors (5018..) only; the BMS/environment
 *   temperatures 5035..5040 are outside the cell block and not read.
 * - Alarms: the fact sheet names the words 5100..5104 but not what their bits
 *   mean, so no Victron alarm is raised from them (the alarm mask is empty,
 *   the alarms are published invalid); describe() shows the raw words.
 * - No writes: the fact sheet documents none.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "modbus_rtu.h"
#include "renogy_wire.h"

#define RN_STATIC_EVERY 64 /* cycles between attempts at the identity while missing */

struct rn_state {
	uint8_t addr;
};

static int rn_init(void *state, uint8_t address)
{
	struct rn_state *st = state;
	if (address > RN_ADDR_MAX)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->addr = address ? address : RN_ADDR_DEFAULT;
	return 0;
}

struct rn_block {
	uint16_t start, count;
};

/* The poll steps, in order; the probe is step 0 alone. */
static const struct rn_block rn_poll[] = {
	{RN_MODEL, RN_MODEL_N},   {RN_STATUS, RN_STATUS_N}, {RN_CELLS, RN_CELLS_N},
	{RN_ALARMS, RN_ALARMS_N}, {RN_INFO, RN_INFO_N},
};
#define RN_NPOLL (sizeof(rn_poll) / sizeof(rn_poll[0]))

/* The block a request descriptor stands for; NULL = the cycle has no such step. */
static const struct rn_block *rn_block_of(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? &rn_poll[0] : NULL;
	case BMS_REQ_POLL:
		return req->step < RN_NPOLL ? &rn_poll[req->step] : NULL;
	case BMS_REQ_READ:
		if (req->step != 0)
			return NULL;
		for (size_t i = 0; i < RN_NPOLL; i++)
			if (rn_poll[i].start == req->reg)
				return &rn_poll[i];
		return NULL;
	default:
		return NULL;
	}
}

static int rn_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct rn_state *st = state;
	if (req->kind == BMS_REQ_SET || req->kind == BMS_REQ_SETUP)
		return req->kind == BMS_REQ_SET ? -EOPNOTSUPP : 0;
	const struct rn_block *b = rn_block_of(req);
	if (!b)
		return req->kind == BMS_REQ_READ && req->step == 0 ? -EOPNOTSUPP : 0;
	int n = bms_modbus_read_request(st->addr, BMS_MODBUS_READ_HOLDING, b->start, b->count, out,
					cap);
	return n == -ENOBUFS ? -ENOSPC : n;
}

/*
 * A reply of a standard function, or a standard request: requests are
 * frames too, so a capture's requests are described and another master's
 * request (or the adapter's echo of ours) is skipped whole as foreign. A
 * read reply of function 0x03 always has an even byte count, so an 8-byte
 * 0x03 frame is a request, never a reply.
 */
static const struct bms_modbus_spec rn_req_spec = {.requests = true};

static int rn_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	int r = bms_modbus_check(NULL, p, avail, ret_len);
	if (r == 1)
		return 1;
	int q = bms_modbus_check(&rn_req_spec, p, avail, ret_len);
	if (q == 1)
		return 1;
	return r == 0 || q == 0 ? 0 : -1;
}

static bool rn_is_request(const uint8_t *frame, size_t len)
{
	return len == 8 && frame[1] == BMS_MODBUS_READ_HOLDING;
}

/* ---- the blocks ---- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)be16(p) << 16) | be16(p + 2);
}

/*
 * A model or serial field: printable ASCII, padded with NULs or spaces,
 * starting with a letter or digit. Copies the trimmed text to out; false
 * for anything else (binary registers of another device).
 */
static bool rn_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
	bool ended = false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0) {
			ended = true;
			continue;
		}
		if (ended || p[i] < 0x20 || p[i] > 0x7E)
			return false;
	}
	if (!((p[0] >= '0' && p[0] <= '9') || (p[0] >= 'A' && p[0] <= 'Z') ||
	      (p[0] >= 'a' && p[0] <= 'z')))
		return false;
	struct breader r = br_init(p, n);
	br_str(&r, n, out, cap);
	return !r.err && out[0] != '\0';
}

static int parse_model(const uint8_t *d, struct bms_snapshot *s)
{
	char model[BMS_STR_LEN];
	if (!rn_text(d, 2 * RN_MODEL_N, model, sizeof(model)))
		return -EPROTO;
	snprintf(s->model, sizeof(s->model), "%s", model);
	s->valid |= BMS_V_MODEL;
	return 0;
}

static int parse_status(const uint8_t *d, struct bms_snapshot *s)
{
	int16_t cur = (int16_t)be16(d);
	uint16_t volt = be16(d + 2);
	uint32_t remain = be32(d + 4), full = be32(d + 8);
	uint16_t cycles = be16(d + 12);
	/* no pack sends these: the registers are someone else's */
	if (volt == 0 || full == 0 || remain > full || full > 5000000u)
		return -EPROTO;
	s->current_ma = cur * 10;
	s->voltage_mv = volt * 100;
	s->capacity_remain_mah = (int32_t)remain;
	s->capacity_full_mah = (int32_t)full;
	s->soc_cpct = (uint16_t)((uint64_t)remain * 10000u / full);
	s->cycles = cycles;
	s->valid |= BMS_V_CURRENT | BMS_V_VOLTAGE | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_SOC |
		    BMS_V_CYCLES;
	return 0;
}

static int parse_cells(const uint8_t *d, struct bms_snapshot *s)
{
	uint16_t ncell = be16(d);
	uint16_t nsens = be16(d + 2 * 17);
	if (ncell == 0 || ncell > RN_MAX_CELLS || nsens > RN_MAX_SENSORS)
		return -EPROTO;
	uint16_t cells[RN_MAX_CELLS];
	for (unsigned i = 0; i < ncell; i++) {
		uint16_t v = be16(d + 2 + 2 * i);
		if (v > 0xFFFFu / 100)
			return -EPROTO;
		cells[i] = (uint16_t)(v * 100);
	}
	s->cell_count = (uint8_t)ncell;
	memcpy(s->cell_mv, cells, ncell * sizeof(cells[0]));
	s->temp_count = (uint8_t)(nsens > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : nsens);
	for (unsigned i = 0; i < s->temp_count; i++)
		s->temp_dc[i] = (int16_t)be16(d + 2 * 18 + 2 * i);
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS;
	return 0;
}

static int parse_alarms(const uint8_t *d, struct bms_snapshot *s)
{
	uint16_t st3 = be16(d + 2 * 6), st4 = be16(d + 2 * 7);
	s->charge_fet = (st3 & RN_FET_CHARGE) != 0;
	s->discharge_fet = (st3 & RN_FET_DISCHARGE) != 0;
	s->heating = (st4 & RN_HEATER) != 0;
	s->valid |= BMS_V_FETS | BMS_V_HEATING;
	return 0;
}

static int parse_info(const uint8_t *d, struct bms_snapshot *s)
{
	char serial[BMS_STR_LEN], model[BMS_STR_LEN], sw[BMS_STR_LEN];
	const uint8_t *ser = d + 2 * (5110 - RN_INFO), *mod = d + 2 * (RN_MODEL - RN_INFO),
		      *ver = d + 2 * (5130 - RN_INFO);
	if (!rn_text(mod, 2 * RN_MODEL_N, model, sizeof(model)))
		return -EPROTO;
	snprintf(s->model, sizeof(s->model), "%s", model);
	s->valid |= BMS_V_MODEL;
	/* a pack without a serial or version sends NULs there: nothing to set */
	if (rn_text(ser, 16, serial, sizeof(serial))) {
		snprintf(s->serial, sizeof(s->serial), "%s", serial);
		s->valid |= BMS_V_SERIAL;
	}
	if (rn_text(ver, 4, sw, sizeof(sw))) {
		snprintf(s->sw_version, sizeof(s->sw_version), "%s", sw);
		s->valid |= BMS_V_SW_VERSION;
	}
	return 0;
}

static int rn_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	struct rn_state *st = state;
	size_t flen = 0;
	if (rn_frame_check(frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	const struct rn_block *b = rn_block_of(req);
	if (!b)
		return -EPROTO; /* the descriptor asks nothing */
	/* a request, another unit's reply, or a function we never ask: someone else's exchange */
	if (rn_is_request(frame, len) || frame[0] != st->addr ||
	    (frame[1] & ~BMS_MODBUS_EXCEPTION) != BMS_MODBUS_READ_HOLDING)
		return BMS_FOREIGN;
	const struct bms_modbus_req asked = {.addr = st->addr,
					     .fn = BMS_MODBUS_READ_HOLDING,
					     .start = b->start,
					     .count = b->count};
	const uint8_t *d;
	size_t n;
	int r = bms_modbus_reply(&asked, frame, len, &d, &n, NULL);
	if (r == -EPROTO)
		return BMS_FOREIGN; /* a reply of another size: it answers another request */
	if (r < 0)
		return r;
	switch (b->start) {
	case RN_MODEL:
		return parse_model(d, snap);
	case RN_STATUS:
		return parse_status(d, snap);
	case RN_CELLS:
		return parse_cells(d, snap);
	case RN_ALARMS:
		return parse_alarms(d, snap);
	default:
		return parse_info(d, snap);
	}
}

/* ---- describe: what a frame is, told without the request ---- */

static void describe_block(const uint8_t *d, size_t n, struct bms_frame_desc *x)
{
	char t[BMS_DESC_TEXT];
	switch (n / 2) {
	case RN_STATUS_N:
		bms_desc_num(x, "current_raw", (int16_t)be16(d));
		return;
	case RN_CELLS_N:
		bms_desc_num(x, "bms_cell_count", be16(d));
		bms_desc_num(x, "bms_temp_count", be16(d + 34));
		return;
	case RN_MODEL_N:
		/* model text, or the alarm and status words */
		if (rn_text(d, n, t, sizeof(t))) {
			bms_desc_text(x, "model_text", t, strlen(t));
			return;
		}
		for (unsigned i = 0; i < RN_ALARMS_N; i++) {
			static const char *const names[RN_ALARMS_N] = {
				"cell_voltage_alarms_hi",
				"cell_voltage_alarms_lo",
				"cell_temp_alarms_hi",
				"cell_temp_alarms_lo",
				"other_alarms",
				"status1",
				"status2",
				"status3",
			};
			bms_desc_num(x, names[i], be16(d + 2 * i));
		}
		return;
	case RN_INFO_N:
		bms_desc_num(x, "other_alarms", be16(d));
		bms_desc_num(x, "status1", be16(d + 2));
		bms_desc_num(x, "status2", be16(d + 4));
		bms_desc_num(x, "status3", be16(d + 6));
		bms_desc_num(x, "register_5108", be16(d + 8));
		bms_desc_num(x, "register_5109", be16(d + 10));
		bms_desc_text(x, "register_5118_text", (const char *)d + 28, 8);
		return;
	default:
		return;
	}
}

int bms_renogy_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (!rn_is_request(frame, len) && bms_modbus_check(NULL, frame, len, &flen) == 1 &&
	    flen == len) {
		uint8_t fn = frame[1];
		if (fn & BMS_MODBUS_EXCEPTION) {
			bms_modbus_describe_exception(frame, "exception", x);
			return 0;
		}
		if (fn != BMS_MODBUS_READ_HOLDING)
			return -1;
		/* a reply names no register: the size tells the block (5100 and 5122
		 * share one size, the content tells them apart) */
		uint16_t reg = 0;
		const char *name = "reply";
		switch (frame[2] / 2) {
		case RN_STATUS_N:
			reg = RN_STATUS, name = "status 5042";
			break;
		case RN_CELLS_N:
			reg = RN_CELLS, name = "cells 5000";
			break;
		case RN_INFO_N:
			reg = RN_INFO, name = "info 5104";
			break;
		case RN_MODEL_N: {
			char t[BMS_STR_LEN];
			bool txt = rn_text(frame + 3, frame[2], t, sizeof(t));
			reg = txt ? RN_MODEL : RN_ALARMS;
			name = txt ? "model 5122" : "alarms 5100";
			break;
		}
		default:
			break;
		}
		bms_desc_init(x, BMS_DIR_REPLY, reg, frame[0], name);
		bms_desc_num(x, "address", frame[0]);
		bms_desc_num(x, "function", fn);
		bms_desc_num(x, "byte_count", frame[2]);
		describe_block(frame + 3, frame[2], x);
		return 0;
	}
	struct bms_modbus_req q;
	if (bms_modbus_check(&rn_req_spec, frame, len, &flen) != 1 || flen != len ||
	    bms_modbus_parse_request(frame, len, &q) < 0 || q.fn != BMS_MODBUS_READ_HOLDING)
		return -1;
	char name[40];
	snprintf(name, sizeof(name), "read %u x%u", q.start, q.count);
	bms_desc_init(x, BMS_DIR_REQUEST, q.start, q.addr, name);
	bms_desc_num(x, "address", q.addr);
	bms_desc_num(x, "function", q.fn);
	bms_desc_num(x, "start_register", q.start);
	bms_desc_num(x, "register_count", q.count);
	return 0;
}

/* Poll steps: the model (static), status, cells, alarms, the identity block (static). */
static const struct bms_step rn_steps[] = {
	{.flags = BMS_STEP_STATIC, .every = RN_STATIC_EVERY, .fills = BMS_V_MODEL},
	{0},
	{0},
	{0},
	{.flags = BMS_STEP_STATIC,
	 .every = RN_STATIC_EVERY,
	 .fills = BMS_V_MODEL | BMS_V_SERIAL | BMS_V_SW_VERSION},
};
static const uint32_t rn_bauds[] = {9600, 0};
static const struct bms_link rn_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {rn_bauds, BMS_8N1}},
};
static const uint8_t rn_addresses[] = {RN_ADDR_DEFAULT, RN_ADDR_ALT, 0};

const struct bms_driver bms_renogy = {
	.name = "renogy",
	.description = "Renogy smart lithium battery, RS485 Modbus RTU (FC 0x03)",
	.spec = "Renogy BMS registers 5000-5141; protocols.md section 8",
	.links = rn_links,
	.nlinks = sizeof(rn_links) / sizeof(rn_links[0]),
	.addresses = rn_addresses,
	.address_min = 1,
	.address_max = RN_ADDR_MAX,
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 2000,
	/* the frame check takes any standard reply; ours are at most 73 bytes */
	.max_frame = BMS_MODBUS_MAX_ADU,
	.flags = BMS_F_ADDRESSED,
	.alarms = 0, /* the alarm words' bits are not documented (see the header) */
	.state_size = sizeof(struct rn_state),
	.steps = rn_steps,
	.nsteps = sizeof(rn_steps) / sizeof(rn_steps[0]),
	.init = rn_init,
	.build_request = rn_build_request,
	.frame_check = rn_frame_check,
	.parse = rn_parse,
};
