/* SPDX-License-Identifier: MIT */
/*
 * ANT BMS, 2021+ protocol ("ANT-BLE16ZMUB", firmware "16ZMUB00-211026A"):
 * docs/PROTOCOLS.md "ANT 2021"; reference protocols.md section 7b.
 *
 * Link: UART 19200 8N1 (the same port as the legacy protocol), no bus
 * address: one BMS per port.
 *
 * Frame layout (multi-byte fields little-endian):
 *   request  7E A1 fn addr(2) len crc(2) AA 55            (10 bytes)
 *   reply    7E A1 fn addr(2) len data[len] crc(2) AA 55  (len + 10 bytes)
 * In a request, len is no data length but a parameter (0xBE for status).
 * Checksum: CRC-16/Modbus over bytes 1 .. 5+len (a request: 1..5), low
 * byte first. Reply functions: 0x11 status (request 0x01), 0x12 device
 * information / settings (request 0x02), 0x14, 0x42, 0x61 (write acks).
 *
 * Status data (frame offsets; c cells, t sensors, o = 2c, k = 34+o+2t):
 * 6 permissions, 7 battery status (0 unknown, 1 idle, 2 charge, 3
 * discharge, 4 standby, 5 error), 8 t, 9 c, 10 8 bytes protection bits, 18
 * 8 bytes warning bits, 26 8 bytes balancing bits, 34 c x cell mV, 34+o t x
 * s16 degC, k s16 MOSFET degC, k+2 s16 balancer degC, k+4 u16 voltage 10 mV,
 * k+6 s16 current 0.1 A (+ = charging), k+8 SOC %, k+10 SOH %, k+12/13/14
 * charge / discharge MOSFET and balancer codes, k+16 u32 total capacity uAh,
 * k+20 remaining uAh, k+24 cycle capacity mAh, k+28 s32 power W, k+32
 * runtime s, k+36 u32 balancing bits (cell 1 = bit 0), k+40 max cell mV,
 * its number, min cell mV, its number, difference, average (u16 each),
 * k+52..61 not decoded (gate voltages, battery type: no source agrees),
 * k+62 u32 total discharged mAh, k+66 charged mAh, k+70 discharging
 * time s, k+74 charging time s.
 *
 * Sample (16S, ESPHome test frame):
 *   request  7E A1 01 00 00 BE 18 55 AA 55
 *   reply    7E A1 11 00 00 8E 05 01 02 10 ... E4 0C E4 0C ... 05 43 AA 55
 *            -> 52.84 V, +0.3 A, 91 %, SOH 100 %, 252.602 of 280 Ah,
 *               16 cells 3.300..3.305 V, sensors 1 and 2 degC, MOSFET 2 degC
 *
 * Decisions (docs/PROTOCOLS.md has the long form):
 * - A sensor reading exactly -40 degC is an open input (the 14S capture
 *   counts four sensors, three read 28 degC and one -40): it is left out of
 *   the snapshot's list, shown by describe(). A frame holding no other
 *   sensor has no temperature list at all.
 * - MOSFETs: on = status code 1; the codes that are protections raise an
 *   alarm at level 2 (bms/ant_wire.h). The protection and warning bit words
 *   have no public bit map: describe() shows them, no alarm is made of them.
 * - The device-information reply (0x12 at address 0x026C) carries six more
 *   bytes between its CRC and AA 55 in both public captures; with no source
 *   for them it is not polled: model and firmware are not read.
 * - Writes: the acknowledgements are named but no MOSFET, balancer or SOC
 *   command is documented, so no write is offered.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "ant_wire.h"
#include "bytes.h"

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | ((uint32_t)le16(p + 2) << 16);
}

static int new_init(void *state, uint8_t address)
{
	(void)state;
	return address == 0 ? 0 : -EINVAL;
}

static bool new_asks(const struct bms_request *req)
{
	if (req->step != 0)
		return false;
	return req->kind == BMS_REQ_PROBE || req->kind == BMS_REQ_POLL ||
	       (req->kind == BMS_REQ_READ && req->reg == ANT_NEW_REQ_STATUS);
}

/* A request frame: 7E A1 fn addr(2) param crc(2) AA 55. */
static size_t new_request(uint8_t fn, uint16_t addr, uint8_t param, uint8_t *out)
{
	out[0] = 0x7E;
	out[1] = 0xA1;
	out[2] = fn;
	put_u16le(out + 3, addr);
	out[5] = param;
	put_u16le(out + 6, bms_crc16_modbus(out + 1, 5));
	out[8] = 0xAA;
	out[9] = 0x55;
	return ANT_NEW_OVERHEAD;
}

static int new_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	(void)state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && req->reg != ANT_NEW_REQ_STATUS)
		return -EOPNOTSUPP;
	if (!new_asks(req))
		return 0;
	if (cap < ANT_NEW_OVERHEAD)
		return -ENOSPC;
	return (int)new_request(ANT_NEW_REQ_STATUS, 0, ANT_NEW_STATUS_LEN, out);
}

static bool new_is_request(const uint8_t *p, size_t len)
{
	return len >= ANT_NEW_OVERHEAD && p[8] == 0xAA && p[9] == 0x55 &&
	       bms_crc16_modbus(p + 1, 5) == le16(p + 6);
}

static int new_frame_check(const uint8_t *p, size_t len, size_t *ret_len)
{
	if (len >= 1 && p[0] != 0x7E)
		return -1;
	if (len >= 2 && p[1] != 0xA1)
		return -1;
	if (len < ANT_NEW_OVERHEAD)
		return 0;
	/* a request has the same first ten bytes as a reply with len 0 */
	if (new_is_request(p, len)) {
		*ret_len = ANT_NEW_OVERHEAD;
		return 1;
	}
	size_t n = (size_t)p[5] + ANT_NEW_OVERHEAD;
	if (len < n)
		return 0;
	if (bms_crc16_modbus(p + 1, n - 5) != le16(p + n - 4) || p[n - 2] != 0xAA ||
	    p[n - 1] != 0x55)
		return -1;
	*ret_len = n;
	return 1;
}

static void new_alarms(uint8_t chg, uint8_t dsg, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	int a = ant_code_alarm(ant_chg_codes, ANT_NCODES(ant_chg_codes), chg);
	if (a < 0)
		a = ant_code_alarm(ant_new_chg_codes, ANT_NCODES(ant_new_chg_codes), chg);
	if (a >= 0)
		s->alarm[a] = 2;
	a = ant_code_alarm(ant_dsg_codes, ANT_NCODES(ant_dsg_codes), dsg);
	if (a < 0)
		a = ant_code_alarm(ant_new_dsg_codes, ANT_NCODES(ant_new_dsg_codes), dsg);
	if (a >= 0)
		s->alarm[a] = 2;
	s->valid |= BMS_V_ALARMS;
}

/* Offset k of the fields after the cells and sensors; 0 when the frame cannot hold them. */
static size_t new_tail(const uint8_t *f, size_t len)
{
	unsigned c = f[9], t = f[8];
	if (c == 0 || c > BMS_MAX_CELLS || t > ANT_NEW_MAX_TEMPS)
		return 0;
	size_t k = ANT_NEW_FIXED + 2u * c + 2u * t;
	return k + ANT_NEW_TAIL + 4 <= len ? k : 0;
}

static int new_parse_status(const uint8_t *f, size_t len, struct bms_snapshot *s)
{
	size_t k = new_tail(f, len);
	if (k == 0 || le16(f + 3) != 0)
		return -EPROTO;
	unsigned c = f[9], t = f[8];
	uint16_t soc = le16(f + k + 8), soh = le16(f + k + 10);
	int16_t mos = (int16_t)le16(f + k);
	if (f[7] > 5 || soc > 100 || soh > 100 || mos < -100 || mos > 200)
		return -EPROTO;
	int16_t temps[ANT_NEW_MAX_TEMPS];
	unsigned nt = 0;
	for (unsigned i = 0; i < t; i++) {
		int16_t v = (int16_t)le16(f + ANT_NEW_FIXED + 2 * c + 2 * i);
		if (v < -100 || v > 200)
			return -EPROTO;
		if (v != -40)
			temps[nt++] = (int16_t)(v * 10);
	}

	s->cell_count = (uint8_t)c;
	for (unsigned i = 0; i < c; i++)
		s->cell_mv[i] = le16(f + ANT_NEW_FIXED + 2 * i);
	s->valid |= BMS_V_CELLS;
	if (nt > 0) {
		s->temp_count = (uint8_t)nt;
		memcpy(s->temp_dc, temps, nt * sizeof(temps[0]));
		s->valid |= BMS_V_TEMPS;
	}
	s->mosfet_temp_dc = (int16_t)(mos * 10);
	s->voltage_mv = le16(f + k + 4) * 10;
	s->current_ma = (int16_t)le16(f + k + 6) * 100;
	s->soc_cpct = (uint16_t)(soc * 100);
	s->soh_cpct = (uint16_t)(soh * 100);
	s->valid |= BMS_V_MOSFET_TEMP | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_SOH;
	s->charge_fet = f[k + 12] == 1;
	s->discharge_fet = f[k + 13] == 1;
	s->valid |= BMS_V_FETS;
	uint32_t total = le32(f + k + 16) / 1000;
	if (total > 0) {
		s->capacity_full_mah = (int32_t)total;
		s->valid |= BMS_V_CAP_FULL;
	}
	s->capacity_remain_mah = (int32_t)(le32(f + k + 20) / 1000);
	s->valid |= BMS_V_CAP_REMAIN;
	s->power_mw = (int64_t)(int32_t)le32(f + k + 28) * 1000;
	s->valid |= BMS_V_POWER;
	uint32_t mask = c >= 32 ? 0xFFFFFFFFu : (1u << c) - 1;
	s->balancing = le32(f + k + 36) & mask;
	s->valid |= BMS_V_BALANCING;
	new_alarms(f[k + 12], f[k + 13], s);
	return 0;
}

static int new_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap)
{
	(void)state;
	size_t flen = 0;
	if (new_frame_check(frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	if (!new_asks(req))
		return -EPROTO;
	/* a request (our echo, another master's), or the answer to another command */
	if ((len == ANT_NEW_OVERHEAD && new_is_request(frame, len)) ||
	    frame[2] != (ANT_NEW_REQ_STATUS | ANT_NEW_REPLY))
		return BMS_FOREIGN;
	return new_parse_status(frame, len, snap);
}

/* ---- describe: what a frame is, told without the request ---- */

static void describe_status(const uint8_t *f, size_t len, struct bms_frame_desc *x)
{
	size_t k = new_tail(f, len);
	if (k == 0)
		return;
	unsigned c = f[9], t = f[8];
	bms_desc_num(x, "permissions", f[6]);
	bms_desc_num(x, "battery_status", f[7]);
	bms_desc_num(x, "temp_sensor_count", t);
	bms_desc_num(x, "bms_cell_count", c);
	bms_desc_num(x, "protection_bits_lo", le32(f + 10));
	bms_desc_num(x, "protection_bits_hi", le32(f + 14));
	bms_desc_num(x, "warning_bits_lo", le32(f + 18));
	bms_desc_num(x, "warning_bits_hi", le32(f + 22));
	bms_desc_num(x, "balance_bits_lo", le32(f + 26));
	bms_desc_num(x, "balance_bits_hi", le32(f + 30));
	for (unsigned i = 0; i < t; i++) {
		char key[BMS_DESC_KEY];
		snprintf(key, sizeof(key), "temp%u_c", i + 1);
		bms_desc_num(x, key, (int16_t)le16(f + ANT_NEW_FIXED + 2 * c + 2 * i));
	}
	bms_desc_num(x, "balancer_temp_c", (int16_t)le16(f + k + 2));
	bms_desc_num(x, "charge_fet_status", f[k + 12]);
	bms_desc_num(x, "discharge_fet_status", f[k + 13]);
	bms_desc_num(x, "balancer_status", f[k + 14]);
	bms_desc_num(x, "capacity_total_ah", le32(f + k + 16) / 1e6);
	bms_desc_num(x, "capacity_remaining_ah", le32(f + k + 20) / 1e6);
	bms_desc_num(x, "cycle_capacity_ah", le32(f + k + 24) / 1e3);
	bms_desc_num(x, "runtime_s", le32(f + k + 32));
	bms_desc_num(x, "balancing_bits", le32(f + k + 36));
	bms_desc_num(x, "max_cell_v", le16(f + k + 40) / 1000.0);
	bms_desc_num(x, "max_cell_no", le16(f + k + 42));
	bms_desc_num(x, "min_cell_v", le16(f + k + 44) / 1000.0);
	bms_desc_num(x, "min_cell_no", le16(f + k + 46));
	bms_desc_num(x, "delta_cell_v", le16(f + k + 48) / 1000.0);
	bms_desc_num(x, "avg_cell_v", le16(f + k + 50) / 1000.0);
	bms_desc_num(x, "total_discharge_ah", le32(f + k + 62) / 1e3);
	bms_desc_num(x, "total_charge_ah", le32(f + k + 66) / 1e3);
	bms_desc_num(x, "discharging_time_s", le32(f + k + 70));
	bms_desc_num(x, "charging_time_s", le32(f + k + 74));
}

int bms_ant_2021_describe(const uint8_t *f, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (new_frame_check(f, len, &flen) != 1 || flen != len)
		return -1;
	uint16_t addr = le16(f + 3);
	char name[40];
	if (len == ANT_NEW_OVERHEAD && new_is_request(f, len)) {
		/* the command is the request's function; a reply's is 0x10 above it (0x11, 0x61) */
		snprintf(name, sizeof(name), "%s 0x%02X",
			 f[2] == ANT_NEW_REQ_STATUS ? "read status" : "request", f[2]);
		bms_desc_init(x, BMS_DIR_REQUEST, f[2], -1, name);
		bms_desc_num(x, "function", f[2]);
		bms_desc_num(x, "register", addr);
		bms_desc_num(x, "length_or_value", f[5]);
		return 0;
	}
	bool status = f[2] == (ANT_NEW_REQ_STATUS | ANT_NEW_REPLY);
	snprintf(name, sizeof(name), "%s 0x%02X", status ? "status" : "reply", f[2]);
	bms_desc_init(x, BMS_DIR_REPLY,
		      (uint16_t)(f[2] >= ANT_NEW_REPLY ? f[2] - ANT_NEW_REPLY : f[2]), -1, name);
	bms_desc_num(x, "function", f[2]);
	bms_desc_num(x, "register", addr);
	bms_desc_num(x, "data_length", f[5]);
	if (status)
		describe_status(f, len, x);
	return 0;
}

static const uint32_t new_bauds[] = {19200, 0};
static const struct bms_link new_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {new_bauds, BMS_8N1}},
};

const struct bms_driver bms_ant_2021 = {
	.name = "ant_2021",
	.description = "ANT BMS, 2021+ protocol (7E A1 ... AA 55 frames, Modbus CRC)",
	.spec = "ANT 2021 protocol (ESPHome ant_bms); protocols.md section 7b",
	.links = new_links,
	.nlinks = sizeof(new_links) / sizeof(new_links[0]),
	.addresses = NULL,
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 1000,
	.max_frame = 255 + ANT_NEW_OVERHEAD,
	.flags = 0,
	.alarms = BMS_ALARMS_COMMON | BMS_ALARM_BIT(HIGH_CURRENT) |
		  BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) | BMS_ALARM_BIT(CELL_IMBALANCE) |
		  BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = 1,
	.init = new_init,
	.build_request = new_build_request,
	.frame_check = new_frame_check,
	.parse = new_parse,
};
