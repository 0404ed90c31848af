/* SPDX-License-Identifier: MIT */
/*
 * EG4 LL (12/24/48 V "LL" series, "egll MODBUS Communication Protocol"),
 * Modbus RTU over RS485 (docs/PROTOCOLS.md "EG4 LL"; reference:
 * protocols.md section 10).
 *
 * Link: 9600 8N1, addressed: the DIP id, 1..15 on one bus (default 1).
 *
 * Frame layout: standard Modbus RTU (bms/modbus_rtu.h), function 0x03,
 * CRC-16/Modbus low byte first, registers big-endian.
 *   request  addr 03 00 00 00 27 crc                 (39 registers from 0)
 *   reply    addr 03 4E data[78] crc                 (83 bytes)
 *
 * Sample (address 1, a 12 V pack, captured over EG4's BLE bridge, which
 * carries the same Modbus frames):
 *   request  01 03 00 00 00 27 05 D0
 *   reply    01 03 4E 05 2C FF C2 0C EE 0C F1 0C ED 0C F1 00 00 ... 95 A4
 *            -> 13.24 V, -6.2 A, 4 cells 3.310..3.313 V, SOC 48 %, SOH 100 %,
 *               MOSFET 17 degC, sensor 1 17 degC, 1 cycle
 *
 * Status block (data offsets; the fact sheet counts from the frame start,
 * which is 3 more): 0 pack voltage 10 mV, 2 current s16 0.1 A (+ =
 * charging), 4..35 cells 1..16 mV, 36 MOSFET temperature s16 degC, 38/40
 * (unnamed), 42 remaining capacity 0.1 Ah, 44 max charge current, 46 SOH
 * %, 48 SOC %, 50 heater byte
 * (0x80 = on), 51..52 status (0x0000 standby, 0x0100 charging, 0x0200
 * discharging, 0x0008 protect, 0x0800 charge limit), 54..55 protection,
 * 56..57 error, 58 cycles u32, 62 full capacity u32 mAs, 66..69
 * temperatures 1..4 s8 degC, 72 cell count, 74 design capacity 0.1 Ah, 76
 * balancer.
 *
 * Decisions where sources conflict or are silent:
 * - Units: aiobmsble's. Two captures (tests/vectors/eg4_ll.json): in the
 *   second, a 400 Ah pack (full capacity 1440000000 mAs, design 4000) at
 *   92 % reports a remaining capacity of 3698, which is 369.8 Ah in 0.1 Ah
 *   (aiobmsble) and impossible in whole Ah (dbus-serialbattery). The
 *   current follows the same source: 0.1 A (the first capture's -62 is
 *   -6.2 A; dbus-serialbattery's 0.01 A makes it -0.62 A). No capture
 *   settles the current by itself; were it wrong, 0.1 A overstates rather
 *   than understates a current.
 * - Capacities: remaining (0.1 Ah), full (u32 mAs) and design (0.1 Ah) only
 *   when the full capacity is sent (not 0: the first capture sends 0 for all
 *   three); design only when not 0.
 * - Not in the snapshot, only described: the max charge current (no unit in
 *   any source: a limit read 10 times too high would be published as the
 *   BMS's own), balancer (one source), the status, protection and error
 *   words (their bits overlap in the only description; no alarm is mapped,
 *   so the driver reports none rather than a meaningless "ok"), no FET state
 *   (none documented).
 * - Temperatures: sensors 1..4 up to the first that reads 0 or outside
 *   -40..+100 degC: an unfitted sensor reads 0xC8 (-56, first capture) or 0
 *   (second capture, sensors 3-4, at 14 degC). A fitted sensor at exactly
 *   0 degC therefore hides itself and those after it for that reading.
 * - The hardware block (0x0069 x 0x17) is not read: no capture, and the
 *   fact sheet's offsets for version and serial overlap.
 * - No writes: none documented.
 * - Detection without ghost matches: function 0x03 with exactly 78 data
 *   bytes from our address, a cell count 1..16, those cells 1.0..5.0 V and
 *   the slots after them 0, the pack voltage within 5 % (+0.2 V) of their
 *   sum, SOC and SOH <= 100 %, MOSFET -40..+120 degC, and with a full
 *   capacity sent, remaining <= 110 % of it.
 * - Frame check: function 0x03 replies from addresses 1..15, their
 *   exceptions, and the status read request (8 bytes, so an echo or
 *   another master's request is skipped whole).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "modbus_rtu.h"

#define LL_ADDR_MAX 15
#define LL_STATUS 0x0000
#define LL_STATUS_REGS 0x27
#define LL_STATUS_BYTES (2 * LL_STATUS_REGS)
#define LL_CELLS 16
#define LL_TEMPS 4

struct ll_state {
	uint8_t addr;
};

static int ll_init(void *state, uint8_t address)
{
	struct ll_state *st = state;
	if (address > LL_ADDR_MAX)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->addr = address ? address : 1;
	return 0;
}

static bool ll_asks(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
	case BMS_REQ_POLL:
		return req->step == 0;
	case BMS_REQ_READ:
		return req->step == 0 && req->reg == LL_STATUS;
	default:
		return false;
	}
}

static int ll_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct ll_state *st = state;
	if (req->kind == BMS_REQ_SET || (req->kind == BMS_REQ_READ && req->reg != LL_STATUS))
		return -EOPNOTSUPP;
	if (!ll_asks(req))
		return 0;
	int n = bms_modbus_read_request(st->addr, BMS_MODBUS_READ_HOLDING, LL_STATUS,
					LL_STATUS_REGS, out, cap);
	return n == -ENOBUFS ? -ENOSPC : n;
}

/* ---- frame check ---- */

static const struct bms_modbus_spec ll_reply_spec = {
	.match_addr = true,
	.addr_min = 1,
	.addr_max = LL_ADDR_MAX,
};

/* Our status read request: 1 whole (8 bytes, good CRC), 0 maybe, -1 no. */
static int request_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	static const uint8_t shape[6] = {0,    BMS_MODBUS_READ_HOLDING, 0x00, 0x00,
					 0x00, LL_STATUS_REGS};
	if (p[0] < 1 || p[0] > LL_ADDR_MAX)
		return -1;
	for (size_t i = 1; i < 6 && i < avail; i++)
		if (p[i] != shape[i])
			return -1;
	if (avail < 8)
		return 0;
	if (!bms_modbus_crc_ok(p, 8))
		return -1;
	*ret_len = 8;
	return 1;
}

static int ll_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (avail == 0)
		return 0;
	/* only function 0x03 and its exception: the family asks nothing else */
	if (avail >= 2 && (p[1] & ~BMS_MODBUS_EXCEPTION) != BMS_MODBUS_READ_HOLDING)
		return -1;
	size_t n = 0;
	int r = bms_modbus_check_exchange(&ll_reply_spec, request_check, p, avail, &n);
	if (r == 1 && n > BMS_MODBUS_MAX_ADU)
		return -1; /* no RTU frame is longer: a byte count of 252..255 is noise */
	if (r == 1)
		*ret_len = n;
	return r;
}

static bool ll_is_request(const uint8_t *f, size_t len)
{
	return bms_modbus_is_request(request_check, f, len);
}

/* ---- decoding ---- */

static uint16_t u16(const uint8_t *d, size_t off)
{
	return (uint16_t)((d[off] << 8) | d[off + 1]);
}

static uint32_t u32(const uint8_t *d, size_t off)
{
	return ((uint32_t)u16(d, off) << 16) | u16(d, off + 2);
}

/* What only an EG4 LL status block holds together (see the header). */
static bool ll_plausible(const uint8_t *d)
{
	uint16_t cells = u16(d, 72);
	if (cells < 1 || cells > LL_CELLS)
		return false;
	uint32_t sum = 0;
	for (unsigned i = 0; i < LL_CELLS; i++) {
		uint16_t mv = u16(d, 4 + 2 * i);
		if (i < cells ? (mv < 1000 || mv > 5000) : mv != 0)
			return false;
		sum += mv;
	}
	uint32_t v = u16(d, 0) * 10u;
	uint32_t diff = v > sum ? v - sum : sum - v;
	if (diff > sum / 20 + 200)
		return false;
	int16_t mos = (int16_t)u16(d, 36);
	uint64_t full = u32(d, 62) / 3600u, rem = u16(d, 42) * 100u; /* mAh */
	if (full && rem > full + full / 10)
		return false;
	return u16(d, 46) <= 100 && u16(d, 48) <= 100 && mos >= -40 && mos <= 120;
}

static int parse_status(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n != LL_STATUS_BYTES || !ll_plausible(d))
		return -EPROTO;
	uint16_t cells = u16(d, 72);
	s->voltage_mv = u16(d, 0) * 10;
	s->current_ma = (int16_t)u16(d, 2) * 100;
	s->cell_count = (uint8_t)cells;
	for (unsigned i = 0; i < cells; i++)
		s->cell_mv[i] = u16(d, 4 + 2 * i);
	s->mosfet_temp_dc = (int16_t)((int16_t)u16(d, 36) * 10);
	s->soh_cpct = (uint16_t)(u16(d, 46) * 100);
	s->soc_cpct = (uint16_t)(u16(d, 48) * 100);
	s->heating = (d[50] & 0x80) != 0;
	s->cycles = u32(d, 58);
	s->temp_count = 0;
	for (unsigned i = 0; i < LL_TEMPS; i++) {
		int8_t t = (int8_t)d[66 + i];
		if (t == 0 || t < -40 || t > 100)
			break;
		s->temp_dc[s->temp_count++] = (int16_t)(t * 10);
	}
	uint32_t full = u32(d, 62) / 3600u; /* mAs -> mAh; fits: < 1.2e6 */
	if (full) {
		s->capacity_full_mah = (int32_t)full;
		s->capacity_remain_mah = u16(d, 42) * 100;
		s->valid |= BMS_V_CAP_FULL | BMS_V_CAP_REMAIN;
	}
	if (u16(d, 74)) {
		s->capacity_design_mah = u16(d, 74) * 100;
		s->valid |= BMS_V_CAP_DESIGN;
	}
	s->valid |= BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_CELLS | BMS_V_MOSFET_TEMP | BMS_V_SOH |
		    BMS_V_SOC | BMS_V_HEATING | BMS_V_CYCLES | BMS_V_TEMPS;
	return 0;
}

static int ll_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	struct ll_state *st = state;
	size_t flen = 0;
	if (ll_frame_check(frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	if (!ll_asks(req))
		return -EPROTO;
	if (ll_is_request(frame, len) || frame[0] != st->addr)
		return BMS_FOREIGN;
	if (!(frame[1] & BMS_MODBUS_EXCEPTION) && frame[2] != LL_STATUS_BYTES)
		return BMS_FOREIGN; /* the answer to another read */
	const struct bms_modbus_req asked = {.addr = st->addr,
					     .fn = BMS_MODBUS_READ_HOLDING,
					     .start = LL_STATUS,
					     .count = LL_STATUS_REGS};
	const uint8_t *d;
	size_t n;
	int r = bms_modbus_reply(&asked, frame, len, &d, &n, NULL);
	if (r < 0)
		return r;
	return parse_status(d, n, snap);
}

/* ---- describe ---- */

static void describe_status(const uint8_t *d, struct bms_frame_desc *x)
{
	bms_desc_num(x, "current_raw_int16", (int16_t)u16(d, 2));
	bms_desc_num(x, "cell_count", u16(d, 72));
	bms_desc_num(x, "register_19", u16(d, 38));
	bms_desc_num(x, "register_20", u16(d, 40));
	bms_desc_num(x, "max_charge_current_raw", u16(d, 44));
	bms_desc_num(x, "heater_byte", d[50]);
	bms_desc_num(x, "status_word", u16(d, 51));
	bms_desc_num(x, "protection_word", u16(d, 54));
	bms_desc_num(x, "error_word", u16(d, 56));
	bms_desc_num(x, "full_capacity_mas", u32(d, 62));
	for (unsigned i = 0; i < LL_TEMPS; i++) {
		char key[BMS_DESC_KEY];
		snprintf(key, sizeof(key), "temp%u_raw_c", i + 1);
		bms_desc_num(x, key, (int8_t)d[66 + i]);
	}
	bms_desc_num(x, "balancer_raw", u16(d, 76));
}

int bms_eg4_ll_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (ll_frame_check(frame, len, &flen) != 1 || flen != len)
		return -1;
	uint8_t fn = frame[1];
	if (fn & BMS_MODBUS_EXCEPTION) {
		bms_modbus_describe_exception(frame, NULL, x); /* "exception to 0x03" */
		return 0;
	}
	if (ll_is_request(frame, len)) {
		bms_desc_init(x, BMS_DIR_REQUEST, LL_STATUS, frame[0], "read status");
		bms_desc_num(x, "address", frame[0]);
		bms_desc_num(x, "function", fn);
		bms_desc_num(x, "start_register", LL_STATUS);
		bms_desc_num(x, "register_count", LL_STATUS_REGS);
		return 0;
	}
	bool status = frame[2] == LL_STATUS_BYTES;
	bms_desc_init(x, BMS_DIR_REPLY, status ? LL_STATUS : 0xFFFF, frame[0],
		      status ? "status" : "read reply");
	bms_desc_num(x, "address", frame[0]);
	bms_desc_num(x, "function", fn);
	bms_desc_num(x, "byte_count", frame[2]);
	if (status)
		describe_status(frame + 3, x);
	return 0;
}

static const uint32_t ll_bauds[] = {9600, 0};
static const struct bms_link ll_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {ll_bauds, BMS_8N1}},
};
static const uint8_t ll_addresses[] = {1, 0};

const struct bms_driver bms_eg4_ll = {
	.name = "eg4_ll",
	.description = "EG4 LL series, Modbus RTU (status registers 0x0000-0x0026)",
	.spec = "egll MODBUS Communication Protocol; protocols.md section 10",
	.links = ll_links,
	.nlinks = sizeof(ll_links) / sizeof(ll_links[0]),
	.addresses = ll_addresses,
	.address_min = 1,
	.address_max = LL_ADDR_MAX,
	/* dbus-serialbattery waits long for this family: a generous timeout */
	.response_timeout_ms = 1000,
	.inter_frame_gap_ms = 100,
	.poll_interval_ms = 2000,
	.max_frame = BMS_MODBUS_MAX_ADU,
	.flags = BMS_F_ADDRESSED,
	.alarms = 0,
	.state_size = sizeof(struct ll_state),
	.init = ll_init,
	.build_request = ll_build_request,
	.frame_check = ll_frame_check,
	.parse = ll_parse,
};
