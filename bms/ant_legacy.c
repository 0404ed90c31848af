/* SPDX-License-Identifier: MIT */
/*
 * ANT BMS, legacy protocol (boards up to about 2020, and later boards on the
 * same UART command): docs/PROTOCOLS.md "ANT legacy"; reference protocols.md
 * section 7a.
 *
 * Link: UART 19200 8N1, no address: one BMS per port.
 *
 * Frame layout:
 *   request  DB DB 00 00 00 00                (6 bytes, "read all", no checksum)
 *            5A 5A reg vh vl chk              (ESPHome's read, chk = reg+vh+vl)
 *            A5 A5 reg vh vl chk              (a write; never sent, see below)
 *   reply    AA 55 AA FF data[134] sum(2)     (always 140 bytes)
 * Checksum: 16-bit sum of bytes 4..137, big-endian at 138.
 *
 * Reply fields (big-endian): 4 pack voltage 0.1 V, 6 32 x cell mV, 70 s32
 * current 0.1 A, 74 SOC %, 75 total capacity uAh, 79 remaining uAh, 83 cycle
 * capacity mAh, 87 uptime s, 91 6 x s16 temperature degC, 103/104 charge and
 * discharge MOSFET status code, 105 balancer status, 106 tire length mm, 108
 * pulses per week, 110 relay, 111 s32 power W, 115 max cell number, 116 its mV,
 * 118 min cell number, 119 its mV, 121 average cell mV, 123 cell count, 124
 * MOSFET D-S and gate drive voltages, 130 comparator zero, 132 u32 balancing
 * bits (cell 1 = bit 0), 136 system status bits.
 *
 * Sample (8S, ESPHome test frame):
 *   request  DB DB 00 00 00 00
 *   reply    AA 55 AA FF 01 0B 0D 0C 0D 0C ... 0F 0E DF
 *            -> 26.7 V, -10.7 A, 41 %, 48.487 Ah left, 8 cells 3.338..3.340 V
 *
 * Decisions (docs/PROTOCOLS.md has the long form):
 * - Current sign: ESPHome's (s32, negative = discharging), which the power
 *   field of the same frame confirms in both captures with a current
 *   (-10.7 A / -285 W, +8.0 A / +390 W); dbus-serialbattery divides by -10.
 * - Temperatures: which of the six sensors is which is not documented. We
 *   report T3 and T4 as the battery sensors, as dbus-serialbattery does (it
 *   reads their low bytes; we read the whole s16). The other four are shown
 *   by describe() only: the captures read 0 degC and -40 degC in slots 5/6
 *   of packs without those sensors, which must not reach the charge limits.
 *   No MOSFET temperature: none is documented.
 * - MOSFETs: on = status code 1. The other codes name why the BMS switched
 *   a MOSFET off; those that are protections raise an alarm at level 2
 *   (bms/ant_wire.h). The total capacity setting is the full capacity (not
 *   set when 0: the 8S capture has none configured).
 * - Writes: protocols.md gives the write frame's form but no register for a
 *   MOSFET, balancer or SOC, so no write is offered.
 * - The max/min cell numbers (115, 118) are shown as sent, never checked: a
 *   16S capture names cell 17 as the lowest.
 * - Requests are frames too (exact shapes, with their checksum where they have
 *   one), so the adapter's echo of our request is skipped as foreign.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "ant_wire.h"
#include "bytes.h"

static const uint8_t old_hdr[4] = {0xAA, 0x55, 0xAA, 0xFF};
static const uint8_t old_read_all[ANT_OLD_REQ_LEN] = {0xDB, 0xDB, 0, 0, 0, 0};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)be16(p) << 16) | be16(p + 2);
}

static int old_init(void *state, uint8_t address)
{
	(void)state;
	return address == 0 ? 0 : -EINVAL;
}

/* The one command: "read all" (0xFF), asked by probe, poll and READ alike. */
static bool old_asks(const struct bms_request *req)
{
	if (req->step != 0)
		return false;
	return req->kind == BMS_REQ_PROBE || req->kind == BMS_REQ_POLL ||
	       (req->kind == BMS_REQ_READ && req->reg == ANT_OLD_READ_ALL);
}

static int old_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	(void)state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && req->reg != ANT_OLD_READ_ALL)
		return -EOPNOTSUPP;
	if (!old_asks(req))
		return 0;
	if (cap < sizeof(old_read_all))
		return -ENOSPC;
	memcpy(out, old_read_all, sizeof(old_read_all));
	return (int)sizeof(old_read_all);
}

/* A request: DB DB 00 00 00 00, or 5A 5A / A5 A5 reg vh vl (reg+vh+vl). */
static int old_request_check(const uint8_t *p, size_t len)
{
	size_t n = len < ANT_OLD_REQ_LEN ? len : ANT_OLD_REQ_LEN;
	if (p[0] == 0xDB)
		return memcmp(p, old_read_all, n) ? -1 : n == ANT_OLD_REQ_LEN ? 1 : 0;
	if (len >= 2 && p[1] != p[0])
		return -1;
	if (len < ANT_OLD_REQ_LEN)
		return 0;
	return (uint8_t)(p[2] + p[3] + p[4]) == p[5] ? 1 : -1;
}

static int old_frame_check(const uint8_t *p, size_t len, size_t *ret_len)
{
	if (len == 0)
		return 0;
	if (p[0] == 0xDB || p[0] == 0x5A || p[0] == 0xA5) {
		int r = old_request_check(p, len);
		if (r == 1)
			*ret_len = ANT_OLD_REQ_LEN;
		return r;
	}
	size_t n = len < sizeof(old_hdr) ? len : sizeof(old_hdr);
	if (memcmp(p, old_hdr, n) != 0)
		return -1;
	if (len < ANT_OLD_LEN)
		return 0;
	if (bms_sum16(p + ANT_OLD_SUM_START, ANT_OLD_SUM - ANT_OLD_SUM_START) !=
	    be16(p + ANT_OLD_SUM))
		return -1;
	*ret_len = ANT_OLD_LEN;
	return 1;
}

static void old_alarms(uint8_t chg, uint8_t dsg, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	int a = ant_code_alarm(ant_chg_codes, ANT_NCODES(ant_chg_codes), chg);
	if (a >= 0)
		s->alarm[a] = 2;
	a = ant_code_alarm(ant_dsg_codes, ANT_NCODES(ant_dsg_codes), dsg);
	if (a >= 0)
		s->alarm[a] = 2;
	s->valid |= BMS_V_ALARMS;
}

static int old_parse_status(const uint8_t *f, struct bms_snapshot *s)
{
	/* what no ANT board sends refuses the whole frame before anything is written */
	uint8_t ncell = f[ANT_OLD_NCELLS];
	int32_t cur = (int32_t)be32(f + ANT_OLD_CURRENT);
	if (ncell == 0 || ncell > ANT_OLD_CELL_SLOTS || f[ANT_OLD_SOC] > 100 ||
	    cur > ANT_OLD_CURRENT_MAX || cur < -ANT_OLD_CURRENT_MAX)
		return -EPROTO;
	for (unsigned i = 0; i < ANT_OLD_BATT_T; i++) {
		int16_t t = (int16_t)be16(f + ANT_OLD_TEMPS + 2 * (2 + i));
		if (t < -100 || t > 200)
			return -EPROTO;
	}

	s->voltage_mv = be16(f + ANT_OLD_VOLTAGE) * 100;
	s->current_ma = cur * 100;
	s->soc_cpct = (uint16_t)(f[ANT_OLD_SOC] * 100);
	s->capacity_remain_mah = (int32_t)(be32(f + ANT_OLD_CAP_REMAIN) / 1000);
	s->valid |= BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN;
	uint32_t total = be32(f + ANT_OLD_CAP_TOTAL) / 1000;
	if (total > 0) {
		s->capacity_full_mah = (int32_t)total;
		s->valid |= BMS_V_CAP_FULL;
	}
	s->cell_count = ncell;
	for (unsigned i = 0; i < ncell; i++)
		s->cell_mv[i] = be16(f + ANT_OLD_CELLS + 2 * i);
	s->temp_count = ANT_OLD_BATT_T;
	for (unsigned i = 0; i < ANT_OLD_BATT_T; i++)
		s->temp_dc[i] = (int16_t)(10 * (int16_t)be16(f + ANT_OLD_TEMPS + 2 * (2 + i)));
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS;
	s->charge_fet = f[ANT_OLD_CHG_FET] == 1;
	s->discharge_fet = f[ANT_OLD_DSG_FET] == 1;
	s->valid |= BMS_V_FETS;
	uint32_t mask = ncell >= 32 ? 0xFFFFFFFFu : (1u << ncell) - 1;
	s->balancing = be32(f + ANT_OLD_BALANCING) & mask;
	s->valid |= BMS_V_BALANCING;
	s->power_mw = (int64_t)(int32_t)be32(f + ANT_OLD_POWER) * 1000;
	s->valid |= BMS_V_POWER;
	old_alarms(f[ANT_OLD_CHG_FET], f[ANT_OLD_DSG_FET], s);
	return 0;
}

static int old_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap)
{
	(void)state;
	size_t flen = 0;
	if (old_frame_check(frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	if (!old_asks(req))
		return -EPROTO;
	if (len == ANT_OLD_REQ_LEN)
		return BMS_FOREIGN; /* a request: another master's, or our echo */
	return old_parse_status(frame, snap);
}

/* ---- describe: what a frame is, told without the request ---- */

int bms_ant_legacy_describe(const uint8_t *f, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (old_frame_check(f, len, &flen) != 1 || flen != len)
		return -1;
	if (len == ANT_OLD_REQ_LEN) {
		if (f[0] == 0xDB) {
			bms_desc_init(x, BMS_DIR_REQUEST, ANT_OLD_READ_ALL, -1, "read all");
			return 0;
		}
		bool write = f[0] == 0xA5;
		bms_desc_init(x, BMS_DIR_REQUEST, f[2], -1, write ? "write" : "read (0x5A)");
		bms_desc_num(x, "register", f[2]);
		bms_desc_num(x, "value", be16(f + 3));
		bms_desc_num(x, "checksum", f[5]);
		return 0;
	}
	bms_desc_init(x, BMS_DIR_REPLY, ANT_OLD_READ_ALL, -1, "status");
	bms_desc_num(x, "bms_cell_count", f[ANT_OLD_NCELLS]);
	bms_desc_num(x, "capacity_total_ah", be32(f + ANT_OLD_CAP_TOTAL) / 1e6);
	bms_desc_num(x, "capacity_remaining_ah", be32(f + ANT_OLD_CAP_REMAIN) / 1e6);
	bms_desc_num(x, "cycle_capacity_ah", be32(f + ANT_OLD_CYCLE_CAP) / 1e3);
	bms_desc_num(x, "runtime_s", be32(f + ANT_OLD_RUNTIME));
	for (unsigned i = 0; i < ANT_OLD_NTEMPS; i++) {
		char key[BMS_DESC_KEY];
		snprintf(key, sizeof(key), "temp%u_c", i + 1);
		bms_desc_num(x, key, (int16_t)be16(f + ANT_OLD_TEMPS + 2 * i));
	}
	bms_desc_num(x, "charge_fet_status", f[ANT_OLD_CHG_FET]);
	bms_desc_num(x, "discharge_fet_status", f[ANT_OLD_DSG_FET]);
	bms_desc_num(x, "balancer_status", f[ANT_OLD_BAL]);
	bms_desc_num(x, "tire_length_mm", be16(f + ANT_OLD_TIRE));
	bms_desc_num(x, "pulses_per_week", be16(f + ANT_OLD_PULSES));
	bms_desc_num(x, "relay", f[ANT_OLD_RELAY]);
	bms_desc_num(x, "max_cell_no", f[ANT_OLD_MAX_NO]);
	bms_desc_num(x, "max_cell_v", be16(f + ANT_OLD_MAX_MV) / 1000.0);
	bms_desc_num(x, "min_cell_no", f[ANT_OLD_MIN_NO]);
	bms_desc_num(x, "min_cell_v", be16(f + ANT_OLD_MIN_MV) / 1000.0);
	bms_desc_num(x, "avg_cell_v", be16(f + ANT_OLD_AVG_MV) / 1000.0);
	bms_desc_num(x, "mosfet_ds_v", be16(f + ANT_OLD_GATE) / 10.0);
	bms_desc_num(x, "discharge_gate_v", be16(f + ANT_OLD_GATE + 2) / 10.0);
	bms_desc_num(x, "charge_gate_v", be16(f + ANT_OLD_GATE + 4) / 10.0);
	bms_desc_num(x, "current_zero_raw", be16(f + ANT_OLD_CMP));
	bms_desc_num(x, "balancing_bits", be32(f + ANT_OLD_BALANCING));
	bms_desc_num(x, "system_bits", be16(f + ANT_OLD_SYSTEM));
	return 0;
}

static const uint32_t old_bauds[] = {19200, 0};
static const struct bms_link old_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {old_bauds, BMS_8N1}},
};

const struct bms_driver bms_ant_legacy = {
	.name = "ant_legacy",
	.description = "ANT BMS, legacy UART protocol (DB DB request, 140-byte AA 55 AA FF reply)",
	.spec = "ANT legacy protocol; protocols.md section 7a",
	.links = old_links,
	.nlinks = sizeof(old_links) / sizeof(old_links[0]),
	.addresses = NULL,
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 1000,
	.max_frame = ANT_OLD_LEN,
	.flags = 0,
	.alarms = BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) | BMS_ALARM_BIT(LOW_CELL_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(LOW_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) | BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) |
		  BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) |
		  BMS_ALARM_BIT(HIGH_TEMPERATURE) | BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) |
		  BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = 1,
	.init = old_init,
	.build_request = old_build_request,
	.frame_check = old_frame_check,
	.parse = old_parse,
};
