/* SPDX-License-Identifier: MIT */
/*
 * Seplos v3 / XZH-ElecTech "BMS48100/48200" (SP05B, SG16S200A-SP57B ...),
 * Modbus RTU over RS485 (docs/PROTOCOLS.md "Seplos v3"; reference:
 * protocols.md section 6).
 *
 * Link: 19200 8N1, addressed: packs 0..15 by DIP switch on one bus, 0 is the
 * bus master (it also serves the system aggregate blocks EIA/EIC). A pack
 * answers only its own address. The driver's address is the pack's DIP
 * address; default 1 (0 is reached by `addresses` or `scan`: the registry's
 * address lists end at 0).
 *
 * Frame layout: standard Modbus RTU (bms/modbus_rtu.h), CRC-16/Modbus low
 * byte first, registers big-endian.
 *   request  addr 04 start(2) count(2) crc       read input registers
 *            addr 01 start(2) count(2) crc       read coils
 *   reply    addr fn bytes data[bytes] crc
 *   refused  addr fn|80 code crc
 *
 * Sample (pack 1, PIA):
 *   request  01 04 10 00 00 11 34 C6
 *   reply    01 04 22 14 CD FF 77 6B 40 80 E8 01 22 03 40 03 E7 00 0A 0C FF
 *            0B 7F 0D 00 0C FF 0B 81 0B 7E 00 00 00 B4 00 B4 D3 2E
 *            -> 53.25 V, -1.37 A, 274.56 of 330 Ah, SOC 83.2 %, SOH 99.9 %,
 *               10 cycles, limits 180 A
 *
 * Blocks (FC, start, count):
 *   PIA 04 0x1000 x17  pack: 0 voltage 10 mV, 1 current s16 10 mA (+ =
 *       charging), 2/3 remaining/total 10 mAh, 4 total discharged 10 Ah,
 *       5/6 SOC/SOH 0.1 %, 7 cycles, 8 average cell mV, 9 average cell
 *       temperature 0.1 K, 10/11 max/min cell mV, 12/13 max/min cell
 *       temperature 0.1 K, 14 (unnamed), 15/16 max discharge/charge current A
 *   PIB 04 0x1100 x26  cells 1..16 mV, cell temperatures 1..4, four unused
 *       (read 2731), environment, power (MOSFET) temperature, all 0.1 K
 *   PIC 01 0x1200 x144 coils, 8 to a byte, LSB = lowest coil: per-cell
 *       low/high voltage alarms (bytes 0..3), sensor low/high alarms (4, 5),
 *       balancing cells 1..16 (6, 7), then the event bytes TB09 system,
 *       TB02 voltage, TB03 cell temperature, TB04 environment/power
 *       temperature, TB05/TB16 current, TB06 capacity, TB07 FET, TB08
 *       battery state, TB15 hard faults (8..17)
 *   VIA 04 0x1700 x51  factory name 20 B, device name 20 B, firmware 2 ASCII
 *       ("15" = 1.5), BMS serial 30 B, pack serial 30 B
 *   EIA 04 0x2000 x26  (master only) the system: 32-bit values LOW WORD
 *       FIRST: voltage 10 mV, current 0.1 A, remaining/total 10 mAh,
 *       discharged 10 Ah, rated 10 mAh, online/protected pack bits, max
 *       discharge/charge current 0.1 A; then u16: suggested pack OV/UV 0.1 V,
 *       pack count, cycles, SOC/SOH 0.1 %
 *   EIC 01 0x2200 x80  (master only) the system's event bytes, laid out as
 *       PIC bytes 8..17 but byte 8 = equalization state
 *
 * Poll cycle: PIA, PIB, PIC, then VIA as static data (BMS_STEP_STATIC: asked
 * on the first cycle and every 64th while missing). The probe is PIA.
 * BMS_REQ_READ knows PIA, PIB, PIC, VIA, EIA and EIC (captures of the
 * master's system blocks decode through it; the poll never asks them: each
 * pack is its own battery).
 *
 * Decisions where sources conflict or are silent:
 * - PIA count: the fact sheet's table says 0x12, the capture asks 0x11 (up to
 *   the charge current limit, the last named register): 0x11, as captured.
 * - Temperatures (raw - 2731) in 0.1 degC (the vendor's 2731.5 rounded as the
 *   capture's 2731 = 0.0 degC on unused slots; dbus-serialbattery's raw/10 -
 *   273 is 0.1 degC off).
 * - Cell count: the index of the last non-zero cell of the 16 slots (PIB has
 *   no count; SPA 0x1301 has, but costs another request per cycle).
 * - Temperatures: sensors 1..4 are the battery temperatures, the power
 *   temperature is the MOSFET temperature; the environment temperature and
 *   the four unused slots go to describe only.
 * - Alarms from the event bytes (seplos_v3_wire.h): TB02 voltage, TB03 cell
 *   temperature (charge ones = the charge temperature alarms), TB05 current
 *   (short circuit = HighCurrent), TB06 SOC low and cell difference, TB15 any
 *   hard fault = InternalFailure; "alarm" bits level 1, protections level 2.
 *   Not mapped: TB04 and TB16 (their bits are not documented), the per-cell
 *   alarm bytes (TB02/TB03 say the same per pack), TB08 (dbus-serialbattery
 *   reads its bit 0 as balancing, which the vendor table calls low-SOC
 *   alarm: PIC bytes 6..7 are the balancing bits).
 * - FETs from TB07 bits 0 (discharge) and 1 (charge), heating from bit 3.
 * - No writes: the fact sheet names the write functions (0x10, 0x0F) and the
 *   SCA/SFA blocks, but no register or value for a FET switch or the SOC.
 * - Detection without ghost matches: a reply must be our function with the
 *   exact byte count of the block asked, from our address (0..15), and PIA
 *   must hold together: SOC and SOH <= 100.0 %, min <= average <= max cell
 *   and temperature, cells <= 5 V, temperatures -50..150 degC, remaining
 *   <= 110 % of total, the pack voltage a whole number (1..32) of average
 *   cells. PIB: cells <= 5 V, at least one, sensors -50..150 degC (an EIA
 *   reply, of the same size, fails there).
 * - Frame check: replies of the standard Modbus functions from addresses
 *   0..15, their exceptions, and the read requests of our blocks (8 bytes,
 *   so another master's request or our own echo is skipped whole).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "modbus_rtu.h"
#include "seplos_v3_wire.h"

#define S3_VIA_EVERY 64

struct s3_state {
	uint8_t addr; /* 0..15 */
};

struct s3_block {
	uint16_t start;
	uint8_t fn;
	uint16_t count;
	const char *name;
};

static const struct s3_block s3_blocks[] = {
	{S3_PIA, BMS_MODBUS_READ_INPUT, S3_PIA_REGS, "PIA"},
	{S3_PIB, BMS_MODBUS_READ_INPUT, S3_PIB_REGS, "PIB"},
	{S3_PIC, BMS_MODBUS_READ_COILS, S3_PIC_COILS, "PIC"},
	{S3_VIA, BMS_MODBUS_READ_INPUT, S3_VIA_REGS, "VIA"},
	{S3_EIA, BMS_MODBUS_READ_INPUT, S3_EIA_REGS, "EIA"},
	{S3_EIC, BMS_MODBUS_READ_COILS, S3_EIC_COILS, "EIC"},
};
#define S3_NBLOCKS (sizeof(s3_blocks) / sizeof(s3_blocks[0]))
#define S3_POLL_STEPS 4 /* PIA PIB PIC VIA */

static const struct s3_block *block_by_start(uint16_t start)
{
	for (size_t i = 0; i < S3_NBLOCKS; i++)
		if (s3_blocks[i].start == start)
			return &s3_blocks[i];
	return NULL;
}

static size_t block_bytes(const struct s3_block *b)
{
	return b->fn == BMS_MODBUS_READ_COILS ? (b->count + 7u) / 8u : 2u * b->count;
}

static int s3_init(void *state, uint8_t address)
{
	struct s3_state *st = state;
	if (address > S3_ADDR_MAX)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->addr = address;
	return 0;
}

/* The block a request descriptor asks; NULL = the cycle has no such step. */
static const struct s3_block *s3_block(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? &s3_blocks[0] : NULL;
	case BMS_REQ_POLL:
		return req->step < S3_POLL_STEPS ? &s3_blocks[req->step] : NULL;
	case BMS_REQ_READ:
		return req->step == 0 ? block_by_start(req->reg) : NULL;
	default:
		return NULL;
	}
}

static int s3_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct s3_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && !block_by_start(req->reg))
		return -EOPNOTSUPP;
	const struct s3_block *b = s3_block(req);
	if (!b)
		return 0;
	int n = bms_modbus_read_request(st->addr, b->fn, b->start, b->count, out, cap);
	return n == -ENOBUFS ? -ENOSPC : n;
}

/* ---- frame check ---- */

static const struct bms_modbus_spec s3_reply_spec = {
	.match_addr = true,
	.addr_min = 0,
	.addr_max = S3_ADDR_MAX,
};

/* A read request of one of our blocks: 1 whole (8 bytes, good CRC), 0 maybe, -1 no. */
static int request_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (p[0] > S3_ADDR_MAX)
		return -1;
	if (avail < 2)
		return 0;
	if (p[1] != BMS_MODBUS_READ_INPUT && p[1] != BMS_MODBUS_READ_COILS)
		return -1;
	if (avail < 4)
		return 0;
	const struct s3_block *b = block_by_start((uint16_t)((p[2] << 8) | p[3]));
	if (!b || b->fn != p[1])
		return -1;
	if (avail < 8)
		return 0;
	if (!bms_modbus_crc_ok(p, 8))
		return -1;
	*ret_len = 8;
	return 1;
}

static int s3_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (avail == 0)
		return 0;
	return bms_modbus_check_exchange(&s3_reply_spec, request_check, p, avail, ret_len);
}

static bool s3_is_request(const uint8_t *f, size_t len)
{
	return bms_modbus_is_request(request_check, f, len);
}

/* ---- decoding ---- */

static uint16_t reg(const uint8_t *d, unsigned i)
{
	return (uint16_t)((d[2 * i] << 8) | d[2 * i + 1]);
}

static bool temp_ok(uint16_t raw)
{
	return raw >= S3_TEMP_MIN && raw <= S3_TEMP_MAX;
}

static const struct bms_modbus_reg pia_map[] = {
	/* reg, count, type, mask, offset, mul, div, field, valid */
	{0x1000, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	{0x1001, 1, BMS_MODBUS_S16, 0, 0, 10, 1, BMS_MODBUS_FIELD(current_ma), BMS_V_CURRENT},
	{0x1002, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_remain_mah),
	 BMS_V_CAP_REMAIN},
	{0x1003, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_full_mah),
	 BMS_V_CAP_FULL},
	{0x1005, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
	{0x1006, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(soh_cpct), BMS_V_SOH},
	{0x1007, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
	{0x100F, 1, BMS_MODBUS_U16, 0, 0, 1000, 1, BMS_MODBUS_FIELD(max_discharge_ma),
	 BMS_V_MAX_DISCHARGE_I},
	{0x1010, 1, BMS_MODBUS_U16, 0, 0, 1000, 1, BMS_MODBUS_FIELD(max_charge_ma),
	 BMS_V_MAX_CHARGE_I},
};

/* What only a Seplos v3 PIA holds together (see the header). */
static bool pia_plausible(const uint8_t *d)
{
	uint32_t v = reg(d, 0) * 10u, avg = reg(d, 8), max = reg(d, 10), min = reg(d, 11);
	uint16_t t_avg = reg(d, 9), t_max = reg(d, 12), t_min = reg(d, 13);
	if (reg(d, 5) > 1000 || reg(d, 6) > 1000)
		return false;
	if (avg == 0 || min > avg || avg > max || max > S3_CELL_MAX_MV)
		return false;
	if (!temp_ok(t_avg) || !temp_ok(t_max) || !temp_ok(t_min) || t_min > t_avg || t_avg > t_max)
		return false;
	uint32_t full = reg(d, 3), rem = reg(d, 2);
	if (rem > full + full / 10)
		return false;
	uint32_t cells = (v + avg / 2) / avg;
	if (cells < 1 || cells > 32)
		return false;
	uint32_t expect = cells * avg;
	uint32_t diff = v > expect ? v - expect : expect - v;
	return diff <= avg / 4;
}

static int parse_pia(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n != 2u * S3_PIA_REGS || !pia_plausible(d))
		return -EPROTO;
	if (bms_modbus_map_apply(pia_map, sizeof(pia_map) / sizeof(pia_map[0]), S3_PIA, d, n, s) <
	    0)
		return -EPROTO;
	return 0;
}

static bool pib_plausible(const uint8_t *d, unsigned *ret_cells)
{
	unsigned cells = 0;
	for (unsigned i = 0; i < S3_PIB_CELLS; i++) {
		uint16_t mv = reg(d, i);
		if (mv > S3_CELL_MAX_MV)
			return false;
		if (mv)
			cells = i + 1;
	}
	if (cells == 0)
		return false;
	for (unsigned i = 16; i < 20; i++)
		if (!temp_ok(reg(d, i)))
			return false;
	if (!temp_ok(reg(d, 24)) || !temp_ok(reg(d, 25)))
		return false;
	*ret_cells = cells;
	return true;
}

static int parse_pib(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	unsigned cells;
	if (n != 2u * S3_PIB_REGS || !pib_plausible(d, &cells))
		return -EPROTO;
	s->cell_count = (uint8_t)cells;
	for (unsigned i = 0; i < cells; i++)
		s->cell_mv[i] = reg(d, i);
	s->temp_count = S3_PIB_TEMPS;
	for (unsigned i = 0; i < S3_PIB_TEMPS; i++)
		s->temp_dc[i] = (int16_t)(reg(d, 16 + i) - S3_TEMP_ZERO);
	s->mosfet_temp_dc = (int16_t)(reg(d, 25) - S3_TEMP_ZERO);
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP;
	return 0;
}

/* The ten event bytes (PIC 8..17, EIC 0..9): alarms, FETs, heating. */
static void apply_events(const uint8_t *ev, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < S3_NALARM_BITS; i++) {
		const struct s3_bit *b = &s3_alarm_map[i];
		if ((ev[b->byte] >> b->bit) & 1u && s->alarm[b->alarm] < b->level)
			s->alarm[b->alarm] = b->level;
	}
	s->discharge_fet = (ev[S3_EV_FET] & S3_FET_DISCHARGE) != 0;
	s->charge_fet = (ev[S3_EV_FET] & S3_FET_CHARGE) != 0;
	s->heating = (ev[S3_EV_FET] & S3_FET_HEATING) != 0;
	s->valid |= BMS_V_ALARMS | BMS_V_FETS | BMS_V_HEATING;
}

static int parse_pic(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n != (S3_PIC_COILS + 7u) / 8u)
		return -EPROTO;
	apply_events(d + S3_PIC_EVENTS, s);
	s->balancing = (uint32_t)d[S3_PIC_BALANCE] | ((uint32_t)d[S3_PIC_BALANCE + 1] << 8);
	s->valid |= BMS_V_BALANCING;
	return 0;
}

/* n bytes of text: stops at NUL, non-printable bytes become '?', trailing blanks go. */
static void text(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && p[i] && k + 1 < cap; i++)
		out[k++] = (p[i] >= 0x20 && p[i] < 0x7F) ? (char)p[i] : '?';
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

static int parse_via(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n != 2u * S3_VIA_REGS)
		return -EPROTO;
	char model[BMS_STR_LEN], serial[BMS_STR_LEN];
	text(d + 20, 20, model, sizeof(model));
	text(d + 42, 30, serial, sizeof(serial));
	if (model[0]) {
		snprintf(s->model, sizeof(s->model), "%s", model);
		s->valid |= BMS_V_MODEL;
	}
	if (serial[0]) {
		snprintf(s->serial, sizeof(s->serial), "%s", serial);
		s->valid |= BMS_V_SERIAL;
	}
	/* two ASCII digits "15" = 1.5 */
	if (d[40] >= '0' && d[40] <= '9' && d[41] >= '0' && d[41] <= '9') {
		snprintf(s->sw_version, sizeof(s->sw_version), "%c.%c", d[40], d[41]);
		s->valid |= BMS_V_SW_VERSION;
	}
	return 0;
}

static const struct bms_modbus_reg eia_map[] = {
	{0x2000, 1, BMS_MODBUS_U32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(voltage_mv), BMS_V_VOLTAGE},
	{0x2002, 1, BMS_MODBUS_S32_WS, 0, 0, 100, 1, BMS_MODBUS_FIELD(current_ma), BMS_V_CURRENT},
	{0x2004, 1, BMS_MODBUS_U32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_remain_mah),
	 BMS_V_CAP_REMAIN},
	{0x2006, 1, BMS_MODBUS_U32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_full_mah),
	 BMS_V_CAP_FULL},
	{0x200A, 1, BMS_MODBUS_U32_WS, 0, 0, 10, 1, BMS_MODBUS_FIELD(capacity_design_mah),
	 BMS_V_CAP_DESIGN},
	{0x2010, 1, BMS_MODBUS_U32_WS, 0, 0, 100, 1, BMS_MODBUS_FIELD(max_discharge_ma),
	 BMS_V_MAX_DISCHARGE_I},
	{0x2012, 1, BMS_MODBUS_U32_WS, 0, 0, 100, 1, BMS_MODBUS_FIELD(max_charge_ma),
	 BMS_V_MAX_CHARGE_I},
	{0x2017, 1, BMS_MODBUS_U16, 0, 0, 1, 1, BMS_MODBUS_FIELD(cycles), BMS_V_CYCLES},
	{0x2018, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(soc_cpct), BMS_V_SOC},
	{0x2019, 1, BMS_MODBUS_U16, 0, 0, 10, 1, BMS_MODBUS_FIELD(soh_cpct), BMS_V_SOH},
};

static int parse_eia(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n != 2u * S3_EIA_REGS)
		return -EPROTO;
	uint16_t packs = reg(d, 0x16);
	if (reg(d, 0x18) > 1000 || reg(d, 0x19) > 1000 || packs < 1 || packs > S3_ADDR_MAX + 1)
		return -EPROTO;
	if (bms_modbus_map_apply(eia_map, sizeof(eia_map) / sizeof(eia_map[0]), S3_EIA, d, n, s) <
	    0)
		return -EPROTO;
	return 0;
}

static int parse_eic(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n != (S3_EIC_COILS + 7u) / 8u)
		return -EPROTO;
	apply_events(d, s);
	return 0;
}

static int s3_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	struct s3_state *st = state;
	size_t flen = 0;
	if (s3_frame_check(frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	const struct s3_block *b = s3_block(req);
	if (!b)
		return -EPROTO; /* the descriptor asks nothing */
	/* someone else's exchange: any request, another unit, another function */
	if (s3_is_request(frame, len) || frame[0] != st->addr ||
	    (frame[1] & ~BMS_MODBUS_EXCEPTION) != b->fn)
		return BMS_FOREIGN;
	if (!(frame[1] & BMS_MODBUS_EXCEPTION) && frame[2] != block_bytes(b))
		return BMS_FOREIGN; /* the answer to another block */
	const struct bms_modbus_req asked = {
		.addr = st->addr, .fn = b->fn, .start = b->start, .count = b->count};
	const uint8_t *d;
	size_t n;
	int r = bms_modbus_reply(&asked, frame, len, &d, &n, NULL);
	if (r < 0)
		return r;
	switch (b->start) {
	case S3_PIA:
		return parse_pia(d, n, snap);
	case S3_PIB:
		return parse_pib(d, n, snap);
	case S3_PIC:
		return parse_pic(d, n, snap);
	case S3_VIA:
		return parse_via(d, n, snap);
	case S3_EIA:
		return parse_eia(d, n, snap);
	default:
		return parse_eic(d, n, snap);
	}
}

/* ---- describe ---- */

static double temp_c(uint16_t raw)
{
	return ((int)raw - S3_TEMP_ZERO) / 10.0;
}

static uint32_t ws32(const uint8_t *d, unsigned i)
{
	return (uint32_t)reg(d, i) | ((uint32_t)reg(d, i + 1) << 16);
}

/* Which block a reply answers, told from its function, size and content. */
static const struct s3_block *reply_block(const uint8_t *f)
{
	size_t bytes = f[2];
	for (size_t i = 0; i < S3_NBLOCKS; i++) {
		const struct s3_block *b = &s3_blocks[i];
		if (b->fn != f[1] || block_bytes(b) != bytes)
			continue;
		/* PIB and EIA are both 52 bytes: PIB's sensors read temperatures */
		if (b->start == S3_PIB) {
			unsigned cells;
			if (!pib_plausible(f + 3, &cells))
				continue;
		}
		return b;
	}
	return NULL;
}

static const char *const tb09_names[] = {"discharge", "charge", "float", "full", "standby", "off"};

static void describe_events(const uint8_t *ev, bool system, struct bms_frame_desc *x)
{
	char st[BMS_DESC_TEXT] = "";
	size_t k = 0;
	for (unsigned b = 0; b < 6; b++)
		if ((ev[S3_EV_SYSTEM] >> b) & 1u) {
			int w = snprintf(st + k, sizeof(st) - k, "%sbit%u %s", k ? ", " : "", b,
					 tb09_names[b]);
			if (w < 0 || (size_t)w >= sizeof(st) - k)
				break;
			k += (size_t)w;
		}
	bms_desc_num(x, "system_state_bits", ev[S3_EV_SYSTEM]);
	bms_desc_text(x, "system_state", st, sizeof(st));
	bms_desc_num(x, "voltage_event_bits", ev[S3_EV_VOLTAGE]);
	bms_desc_num(x, "cell_temp_event_bits", ev[S3_EV_CELL_TEMP]);
	bms_desc_num(x, "env_temp_event_bits", ev[S3_EV_ENV_TEMP]);
	bms_desc_num(x, "current_event1_bits", ev[S3_EV_CURRENT1]);
	bms_desc_num(x, "current_event2_bits", ev[S3_EV_CURRENT2]);
	bms_desc_num(x, "capacity_event_bits", ev[S3_EV_CAPACITY]);
	bms_desc_num(x, "fet_event_bits", ev[S3_EV_FET]);
	bms_desc_num(x, system ? "equalization_state_bits" : "battery_state_bits", ev[S3_EV_STATE]);
	bms_desc_num(x, "hard_fault_bits", ev[S3_EV_HARD_FAULT]);
}

static void describe_reply(const struct s3_block *b, const uint8_t *d, struct bms_frame_desc *x)
{
	char t[BMS_DESC_TEXT];
	switch (b->start) {
	case S3_PIA:
		bms_desc_num(x, "total_discharge_ah", reg(d, 4) * 10.0);
		bms_desc_num(x, "avg_cell_v", reg(d, 8) / 1000.0);
		bms_desc_num(x, "avg_cell_temp_c", temp_c(reg(d, 9)));
		bms_desc_num(x, "max_cell_v", reg(d, 10) / 1000.0);
		bms_desc_num(x, "min_cell_v", reg(d, 11) / 1000.0);
		bms_desc_num(x, "max_cell_temp_c", temp_c(reg(d, 12)));
		bms_desc_num(x, "min_cell_temp_c", temp_c(reg(d, 13)));
		bms_desc_num(x, "register_0x100e", reg(d, 14));
		break;
	case S3_PIB:
		bms_desc_num(x, "environment_temp_c", temp_c(reg(d, 24)));
		for (unsigned i = 0; i < 4; i++) {
			char key[BMS_DESC_KEY];
			snprintf(key, sizeof(key), "unused_0x%04x_raw", 0x1114 + i);
			bms_desc_num(x, key, reg(d, 20 + i));
		}
		break;
	case S3_PIC:
		bms_desc_num(x, "cell_low_alarm_bits", d[0] | (d[1] << 8));
		bms_desc_num(x, "cell_high_alarm_bits", d[2] | (d[3] << 8));
		bms_desc_num(x, "temp_low_alarm_bits", d[4]);
		bms_desc_num(x, "temp_high_alarm_bits", d[5]);
		describe_events(d + S3_PIC_EVENTS, false, x);
		break;
	case S3_VIA:
		text(d, 20, t, sizeof(t));
		bms_desc_text(x, "factory_name", t, sizeof(t));
		text(d + 20, 20, t, sizeof(t));
		bms_desc_text(x, "device_name", t, sizeof(t));
		text(d + 40, 2, t, sizeof(t));
		bms_desc_text(x, "firmware_version_ascii", t, sizeof(t));
		text(d + 42, 30, t, sizeof(t));
		bms_desc_text(x, "bms_serial", t, sizeof(t));
		text(d + 72, 30, t, sizeof(t));
		bms_desc_text(x, "pack_serial", t, sizeof(t));
		break;
	case S3_EIA:
		bms_desc_num(x, "total_discharge_ah", ws32(d, 8) * 10.0);
		bms_desc_num(x, "online_pack_flags", ws32(d, 12));
		bms_desc_num(x, "protected_pack_flags", ws32(d, 14));
		bms_desc_num(x, "suggest_pack_ov_v", reg(d, 20) / 10.0);
		bms_desc_num(x, "suggest_pack_uv_v", reg(d, 21) / 10.0);
		bms_desc_num(x, "pack_count", reg(d, 22));
		break;
	default:
		describe_events(d, true, x);
		break;
	}
}

int bms_seplos_v3_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (s3_frame_check(frame, len, &flen) != 1 || flen != len)
		return -1;
	uint8_t fn = frame[1];
	char name[40];
	if (fn & BMS_MODBUS_EXCEPTION) {
		bms_modbus_describe_exception(frame, NULL, x);
		return 0;
	}
	if (s3_is_request(frame, len)) {
		uint16_t start = (uint16_t)((frame[2] << 8) | frame[3]);
		uint16_t count = (uint16_t)((frame[4] << 8) | frame[5]);
		const struct s3_block *b = block_by_start(start);
		bool coils = fn == BMS_MODBUS_READ_COILS;
		snprintf(name, sizeof(name), "read %s", b->name);
		bms_desc_init(x, BMS_DIR_REQUEST, start, frame[0], name);
		bms_desc_num(x, "address", frame[0]);
		bms_desc_num(x, "function", fn);
		bms_desc_num(x, coils ? "start_coil" : "start_register", start);
		bms_desc_num(x, coils ? "coil_count" : "register_count", count);
		bms_desc_text(x, "block", b->name, strlen(b->name));
		return 0;
	}
	const struct s3_block *b = reply_block(frame);
	snprintf(name, sizeof(name), "%s", b ? b->name : "read reply");
	bms_desc_init(x, BMS_DIR_REPLY, b ? b->start : 0, frame[0], name);
	bms_desc_num(x, "address", frame[0]);
	bms_desc_num(x, "function", fn);
	bms_desc_num(x, "byte_count", frame[2]);
	if (b)
		describe_reply(b, frame + 3, x);
	return 0;
}

/* Poll steps: PIA, PIB, PIC plain; VIA static. */
static const struct bms_step s3_steps[] = {
	{0},
	{0},
	{0},
	{.flags = BMS_STEP_STATIC,
	 .every = S3_VIA_EVERY,
	 .fills = BMS_V_MODEL | BMS_V_SERIAL | BMS_V_SW_VERSION},
};
static const uint32_t s3_bauds[] = {19200, 0};
static const struct bms_link s3_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {s3_bauds, BMS_8N1}},
};
static const uint8_t s3_addresses[] = {1, 0};

const struct bms_driver bms_seplos_v3 = {
	.name = "seplos_v3",
	.description = "Seplos v3 / XZH-ElecTech, Modbus RTU (PIA/PIB/PIC/VIA blocks)",
	.spec = "XZH BMS Modbus-RTU protocol V0.1; protocols.md section 6",
	.links = s3_links,
	.nlinks = sizeof(s3_links) / sizeof(s3_links[0]),
	.addresses = s3_addresses,
	.address_min = 0,
	.address_max = S3_ADDR_MAX,
	.response_timeout_ms = 500,
	/* RS485 with several packs: the fact sheet's >= 100 ms between exchanges */
	.inter_frame_gap_ms = 100,
	.poll_interval_ms = 2000,
	.max_frame = BMS_MODBUS_MAX_ADU,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARMS_COMMON | BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(LOW_SOC) |
		  BMS_ALARM_BIT(CELL_IMBALANCE) | BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = sizeof(struct s3_state),
	.steps = s3_steps,
	.nsteps = sizeof(s3_steps) / sizeof(s3_steps[0]),
	.init = s3_init,
	.build_request = s3_build_request,
	.frame_check = s3_frame_check,
	.parse = s3_parse,
};
