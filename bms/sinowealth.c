/* SPDX-License-Identifier: MIT */
/*
 * Sinowealth register protocol: old Daly boards (3..10 cells) built on a
 * Sinowealth chip (SH39F003/004, SH36730x), the "BMSTool - Sinowealth" PC
 * tool's protocol (docs/PROTOCOLS.md "Sinowealth"; reference: protocols.md
 * section 14, dbus-serialbattery sinowealth.py, python-daly-bms
 * daly_sinowealth.py).
 *
 * Link: UART 9600 8N1, one board per port, no address.
 *
 * Request, 3 bytes: 0A reg width. width = the data bytes asked for: 4 for the
 * 32-bit registers 0x10..0x12, 2 for the others (as the vendor tool asks in
 * the captures; dbus-serialbattery asks 4 for every register and reads the
 * first two).
 * Reply: data[width] crc, nothing else: no start byte, no length, no
 * register number. crc = CRC-8 (polynomial 0x07, init 0, SMBus PEC) over the
 * three request bytes followed by the data. The fact sheet calls this byte
 * unverified; it holds for all eleven captured replies (tests/vectors).
 *
 * Sample (python-daly-bms issue 1, the vendor tool's traffic):
 *   request 0A 01 02   reply 0D 03 FD   -> cell 1 = 0x0D03 = 3331 mV
 *   request 0A 0B 02   reply 34 0D 0F   -> pack 13325 mV
 *
 * Registers (BE): 0x01..0x0A cells mV, 0x0B pack mV, 0x0C/0x0D external
 * temperatures and 0x0E/0x0F chip temperatures 0.1 K, 0x10 current s32 mA,
 * 0x11 full and 0x12 remaining capacity s32 mAh, 0x13 SOC %, 0x14 cycles,
 * 0x15 pack status, 0x16 battery status, 0x17 pack configuration, 0x18
 * manufacture access (not read).
 *
 * What cannot be detected, and what stands in for it:
 * - A reply names neither its register nor its length: which register it
 *   answers is only known from the request. The frame check (stateless)
 *   accepts 3 bytes whose CRC fits some 2-byte register and 5 whose CRC fits
 *   a 4-byte one, which about one random 3-byte window in twelve does, so it
 *   cannot keep another protocol's bytes out; parse checks the CRC against
 *   the register actually asked, which finds every single corrupted byte
 *   (a CRC-8 sees every burst up to 8 bits). A reply whose CRC also fits
 *   another register is told by describe() as the first that fits.
 * - A 5-byte reply read in two parts may be cut after 3 bytes when those fit
 *   a 2-byte register (a CRC chance); parse refuses the short frame, the
 *   step is retried.
 * - A reply that looks exactly like a request (0A, 01..18, its width) is
 *   taken for one (our echo or another master's): cell readings of
 *   2561..2584 mV whose CRC happens to equal the width. The step is retried.
 * - Request plus reply back to back (an adapter that echoes, or a capture)
 *   make one "exchange" frame, checked whole: register, width and CRC.
 * So plausibility carries the weight: the probe reads the configuration
 * (cell count 3..10), the pack voltage, the SOC and cell 1, and refuses a
 * pack whose average cell is outside 2.0..4.5 V, whose cell 1 is more than
 * 0.5 V off that average, or whose SOC is above 100 %.
 *
 * Decisions:
 * - Current: positive = charging (the chip's CADC; neither source says
 *   otherwise, dbus-serialbattery publishes it as read).
 * - Temperatures: the external sensors; the second only when configuration
 *   bit 6 is set (dbus-serialbattery's comment "one means two"; its code
 *   tests every other bit, which we do not follow). Chip temperatures only
 *   through describe() and READ.
 * - Battery status bits as python-daly-bms names them; both over-currents
 *   are told apart (dbus-serialbattery raises both as charge).
 * - No writes: none is documented.
 * - BMS_F_OPT_IN: the requests are three bare bytes that start with 0x0A
 *   (LF): a text device on the port reads them as a line, and the replies
 *   have no header, so nothing protects a port whose device is not this.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "sinowealth_wire.h"

#define SW_FULL_EVERY 16 /* cycles between full-capacity attempts while missing */
#define SW_AVG_MIN_MV 2000
#define SW_AVG_MAX_MV 4500
#define SW_CELL1_TOL_MV 500

/* The probe: configuration, pack voltage, SOC, cell 1. */
static const uint8_t sw_probe_regs[] = {SW_REG_CONFIG, SW_REG_VOLTAGE, SW_REG_SOC, SW_REG_CELL1};
/* The fixed head of a poll; then cells 1..n, then the second sensor. */
static const uint8_t sw_poll_regs[] = {
	SW_REG_CONFIG, SW_REG_VOLTAGE, SW_REG_CURRENT,     SW_REG_SOC,         SW_REG_FULL,
	SW_REG_REMAIN, SW_REG_CYCLES,  SW_REG_PACK_STATUS, SW_REG_BATT_STATUS, SW_REG_EXT_TEMP1,
};
#define SW_STEP_FULL 4 /* index of SW_REG_FULL in sw_poll_regs: static data */
#define SW_NPOLL (sizeof(sw_poll_regs) / sizeof(sw_poll_regs[0]))

struct sw_state {
	uint8_t cells;   /* from the configuration; SW_MAX_CELLS until it is read */
	uint8_t sensors; /* external sensors: 1 or 2 */
	/* the probe's readings, for its last step's plausibility */
	bool have_cfg, have_voltage;
	uint16_t voltage_mv;
	/*
	 * READ (decode of a capture, one reply at a time): the cells and sensors
	 * read so far, so each reply carries the whole list, not only its own.
	 */
	uint16_t rd_cell_mv[SW_MAX_CELLS];
	uint8_t rd_cells;
	int16_t rd_temp_dc[2];
	uint8_t rd_temps;
};

static int sw_init(void *state, uint8_t address)
{
	struct sw_state *st = state;
	(void)address;
	memset(st, 0, sizeof(*st));
	st->cells = SW_MAX_CELLS;
	st->sensors = 1;
	return 0;
}

/* The register a request descriptor stands for; 0 = the cycle has no such step. */
static uint8_t sw_reg(const struct sw_state *st, const struct bms_request *req)
{
	unsigned s = req->step;
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return s < sizeof(sw_probe_regs) ? sw_probe_regs[s] : 0;
	case BMS_REQ_POLL:
		if (s < SW_NPOLL)
			return sw_poll_regs[s];
		s -= (unsigned)SW_NPOLL;
		if (s < st->cells)
			return (uint8_t)(SW_REG_CELL1 + s);
		return s == st->cells && st->sensors == 2 ? SW_REG_EXT_TEMP2 : 0;
	case BMS_REQ_READ:
		return req->step == 0 && sw_reg_known(req->reg) ? (uint8_t)req->reg : 0;
	default:
		return 0;
	}
}

static int sw_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct sw_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && !sw_reg_known(req->reg))
		return -EOPNOTSUPP;
	uint8_t reg = sw_reg(st, req);
	if (reg == 0)
		return 0;
	if (cap < SW_REQ_LEN)
		return -ENOBUFS;
	out[0] = SW_START;
	out[1] = reg;
	out[2] = sw_width(reg);
	return SW_REQ_LEN;
}

static bool sw_is_request(const uint8_t *p, size_t n)
{
	return n >= SW_REQ_LEN && p[0] == SW_START && p[1] >= SW_REG_CELL1 &&
	       p[1] <= SW_REG_MANUFACTURE && p[2] == sw_width(p[1]);
}

/* The first register whose reply of width w the data + crc at p fits; 0 = none. */
static uint8_t sw_fits(const uint8_t *p, uint8_t w)
{
	for (uint8_t reg = SW_REG_CELL1; reg <= SW_REG_MANUFACTURE; reg++)
		if (sw_width(reg) == w && sw_reply_crc(reg, p, w) == p[w])
			return reg;
	return 0;
}

static int sw_frame_check(const uint8_t *p, size_t n, size_t *ret_len)
{
	if (n < SW_REQ_LEN)
		return 0;
	if (sw_is_request(p, n)) {
		/* a request: with its reply right behind it, one exchange */
		size_t whole = SW_REQ_LEN + p[2] + 1u;
		if (n >= whole && bms_crc8(0, p, whole - 1) == p[whole - 1]) {
			*ret_len = whole;
			return 1;
		}
		if (n == SW_REQ_LEN || n >= whole) {
			*ret_len = SW_REQ_LEN;
			return 1;
		}
		return 0; /* a reply may be arriving behind it */
	}
	if (n >= 5 && sw_fits(p, 4)) {
		*ret_len = 5;
		return 1;
	}
	if (sw_fits(p, 2)) {
		*ret_len = 3;
		return 1;
	}
	return n < 5 ? 0 : -1;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int32_t be32s(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int16_t sw_temp_dc(const uint8_t *d)
{
	int t = (int)be16(d) - SW_KELVIN_DK;
	return (int16_t)(t < -32768 ? -32768 : t > 32767 ? 32767 : t);
}

/*
 * One register's data into snap. last: this step completes its field group
 * (the last cell of the poll, the last sensor). -EPROTO for a value no board
 * sends.
 */
static int sw_decode(struct sw_state *st, uint8_t reg, const uint8_t *d, bool read,
		     unsigned npoll_cells, struct bms_snapshot *s)
{
	if (reg >= SW_REG_CELL1 && reg <= SW_REG_CELL10) {
		unsigned i = reg - SW_REG_CELL1;
		s->cell_mv[i] = be16(d);
		if (read) {
			st->rd_cell_mv[i] = s->cell_mv[i];
			if (st->rd_cells < i + 1)
				st->rd_cells = (uint8_t)(i + 1);
			s->cell_count = st->rd_cells;
			memcpy(s->cell_mv, st->rd_cell_mv, sizeof(st->rd_cell_mv));
			s->valid |= BMS_V_CELLS;
		} else if (i + 1 == npoll_cells) {
			s->cell_count = (uint8_t)npoll_cells;
			s->valid |= BMS_V_CELLS;
		}
		return 0;
	}
	switch (reg) {
	case SW_REG_VOLTAGE:
		s->voltage_mv = be16(d);
		s->valid |= BMS_V_VOLTAGE;
		return 0;
	case SW_REG_EXT_TEMP1:
	case SW_REG_EXT_TEMP2: {
		unsigned i = reg - SW_REG_EXT_TEMP1;
		s->temp_dc[i] = sw_temp_dc(d);
		if (read) {
			st->rd_temp_dc[i] = s->temp_dc[i];
			if (st->rd_temps < i + 1)
				st->rd_temps = (uint8_t)(i + 1);
			s->temp_count = st->rd_temps;
			memcpy(s->temp_dc, st->rd_temp_dc, sizeof(st->rd_temp_dc));
			s->valid |= BMS_V_TEMPS;
		} else if (i + 1 == st->sensors) {
			s->temp_count = st->sensors;
			s->valid |= BMS_V_TEMPS;
		}
		return 0;
	}
	case SW_REG_IC_TEMP1:
	case SW_REG_IC_TEMP2:
		return 0; /* describe() shows them */
	case SW_REG_CURRENT:
		s->current_ma = be32s(d);
		s->valid |= BMS_V_CURRENT;
		return 0;
	case SW_REG_FULL:
	case SW_REG_REMAIN: {
		int32_t v = be32s(d);
		if (v < 0)
			return -EPROTO;
		if (reg == SW_REG_FULL) {
			s->capacity_full_mah = v;
			s->valid |= BMS_V_CAP_FULL;
		} else {
			s->capacity_remain_mah = v;
			s->valid |= BMS_V_CAP_REMAIN;
		}
		return 0;
	}
	case SW_REG_SOC: {
		uint16_t soc = be16(d);
		if (soc > 100)
			return -EPROTO;
		s->soc_cpct = (uint16_t)(soc * 100);
		s->valid |= BMS_V_SOC;
		return 0;
	}
	case SW_REG_CYCLES:
		s->cycles = be16(d);
		s->valid |= BMS_V_CYCLES;
		return 0;
	case SW_REG_PACK_STATUS:
		s->charge_fet = (d[1] & SW_PS_CHG_FET) != 0;
		s->discharge_fet = (d[1] & SW_PS_DSG_FET) != 0;
		s->valid |= BMS_V_FETS;
		return 0;
	case SW_REG_BATT_STATUS: {
		memset(s->alarm, 0, sizeof(s->alarm));
		static const struct {
			uint8_t byte, bit;
			enum bms_alarm a;
		} map[] = {
			{0, SW_BS_OTC, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
			{0, SW_BS_OTD, BMS_ALARM_HIGH_TEMPERATURE},
			{0, SW_BS_UTC, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
			{0, SW_BS_UTD, BMS_ALARM_LOW_TEMPERATURE},
			{0, SW_BS_AFE_OV, BMS_ALARM_HIGH_VOLTAGE},
			{0, SW_BS_AFE_SC, BMS_ALARM_HIGH_CURRENT},
			{1, SW_BS_OV, BMS_ALARM_HIGH_VOLTAGE},
			{1, SW_BS_UV, BMS_ALARM_LOW_VOLTAGE},
			{1, SW_BS_OCC, BMS_ALARM_HIGH_CHARGE_CURRENT},
			{1, SW_BS_OCD, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
		};
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (d[map[i].byte] & map[i].bit)
				s->alarm[map[i].a] = 2;
		s->valid |= BMS_V_ALARMS;
		return 0;
	}
	case SW_REG_CONFIG:
		st->cells = (uint8_t)((d[1] & SW_CFG_CELLS_MASK) + SW_MIN_CELLS);
		st->sensors = (d[1] & SW_CFG_TWO_SENSORS) ? 2 : 1;
		return 0;
	default:
		return -EPROTO;
	}
}

/* The probe's last step: is this a pack at all? */
static int sw_probe_plausible(const struct sw_state *st, const struct bms_snapshot *s)
{
	if (!st->have_cfg || !st->have_voltage)
		return -EPROTO;
	unsigned avg = st->voltage_mv / st->cells;
	if (avg < SW_AVG_MIN_MV || avg > SW_AVG_MAX_MV)
		return -EPROTO;
	int off = (int)s->cell_mv[0] - (int)avg;
	if (off < -SW_CELL1_TOL_MV || off > SW_CELL1_TOL_MV)
		return -EPROTO;
	return 0;
}

static int sw_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		    struct bms_snapshot *snap)
{
	struct sw_state *st = state;
	size_t flen = 0;
	if (sw_frame_check(frame, len, &flen) != 1 || flen != len)
		return -EBADMSG;
	uint8_t reg = sw_reg(st, req);
	if (reg == 0)
		return -EPROTO; /* the descriptor asks nothing */
	uint8_t w = sw_width(reg);
	const uint8_t *d = frame;
	if (sw_is_request(frame, len)) {
		if (len == SW_REQ_LEN)
			return BMS_FOREIGN; /* a request: our echo, another master's */
		if (frame[1] != reg)
			return BMS_FOREIGN; /* another master's exchange */
		d = frame + SW_REQ_LEN;
	} else if (len != w + 1u) {
		return -EBADMSG; /* a reply of the other width: not to our request */
	}
	/* the check the frame check could not make: the register we asked */
	if (sw_reply_crc(reg, d, w) != d[w])
		return -EBADMSG;
	if (req->kind == BMS_REQ_PROBE && req->step == 0)
		st->have_cfg = st->have_voltage = false;
	struct bms_snapshot tmp = *snap;
	unsigned poll_cells = req->kind == BMS_REQ_POLL ? st->cells : 0;
	int r = sw_decode(st, reg, d, req->kind == BMS_REQ_READ, poll_cells, &tmp);
	if (r < 0)
		return r;
	if (req->kind == BMS_REQ_PROBE) {
		if (reg == SW_REG_CONFIG)
			st->have_cfg = true;
		if (reg == SW_REG_VOLTAGE) {
			st->have_voltage = true;
			st->voltage_mv = (uint16_t)tmp.voltage_mv;
		}
		if (reg == SW_REG_CELL1) {
			r = sw_probe_plausible(st, &tmp);
			if (r < 0)
				return r;
			tmp.cell_count = 0; /* one cell of n is no cell list */
			tmp.valid &= ~BMS_V_CELLS;
		}
	}
	*snap = tmp;
	return 0;
}

/* ---- describe: what a frame is, told without the request ---- */

static const char *sw_reg_name(uint8_t reg)
{
	static const char *const names[] = {
		[SW_REG_VOLTAGE] = "pack voltage",
		[SW_REG_EXT_TEMP1] = "external temperature 1",
		[SW_REG_EXT_TEMP2] = "external temperature 2",
		[SW_REG_IC_TEMP1] = "chip temperature 1",
		[SW_REG_IC_TEMP2] = "chip temperature 2",
		[SW_REG_CURRENT] = "current",
		[SW_REG_FULL] = "full capacity",
		[SW_REG_REMAIN] = "remaining capacity",
		[SW_REG_SOC] = "SOC",
		[SW_REG_CYCLES] = "cycles",
		[SW_REG_PACK_STATUS] = "pack status",
		[SW_REG_BATT_STATUS] = "battery status",
		[SW_REG_CONFIG] = "pack configuration",
		[SW_REG_MANUFACTURE] = "manufacture access",
	};
	if (reg >= SW_REG_CELL1 && reg <= SW_REG_CELL10)
		return "cell voltage";
	return reg < sizeof(names) / sizeof(names[0]) && names[reg] ? names[reg] : "register";
}

static void describe_data(uint8_t reg, const uint8_t *d, struct bms_frame_desc *x)
{
	char key[BMS_DESC_KEY];
	if (reg >= SW_REG_CELL1 && reg <= SW_REG_CELL10) {
		snprintf(key, sizeof(key), "cell%u_v", reg - SW_REG_CELL1 + 1u);
		bms_desc_num(x, key, be16(d) / 1000.0);
		return;
	}
	switch (reg) {
	case SW_REG_EXT_TEMP1:
	case SW_REG_EXT_TEMP2:
	case SW_REG_IC_TEMP1:
	case SW_REG_IC_TEMP2:
		snprintf(key, sizeof(key), "%s%u_c", reg >= SW_REG_IC_TEMP1 ? "chip_temp" : "temp",
			 (reg - SW_REG_EXT_TEMP1) % 2 + 1u);
		bms_desc_num(x, key, ((int)be16(d) - SW_KELVIN_DK) / 10.0);
		return;
	case SW_REG_PACK_STATUS:
		bms_desc_num(x, "pack_status_bits", be16(d));
		bms_desc_num(x, "charging", (d[1] & SW_PS_CHARGING) != 0);
		bms_desc_num(x, "discharging", (d[1] & SW_PS_DISCHARGING) != 0);
		return;
	case SW_REG_BATT_STATUS:
		bms_desc_num(x, "battery_status_bits", be16(d));
		bms_desc_num(x, "disconnected", (d[0] & SW_BS_CTO) != 0);
		return;
	case SW_REG_CONFIG:
		bms_desc_num(x, "config_bits", be16(d));
		bms_desc_num(x, "cells", (d[1] & SW_CFG_CELLS_MASK) + SW_MIN_CELLS);
		bms_desc_num(x, "sensors", (d[1] & SW_CFG_TWO_SENSORS) ? 2 : 1);
		return;
	case SW_REG_MANUFACTURE:
		bms_desc_num(x, "manufacture_word", be16(d));
		return;
	default:
		return; /* the snapshot keys tell the rest */
	}
}

int bms_sinowealth_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	if (sw_frame_check(frame, len, &flen) != 1 || flen != len)
		return -1;
	char name[40];
	if (sw_is_request(frame, len)) {
		uint8_t reg = frame[1];
		bool alone = len == SW_REQ_LEN;
		snprintf(name, sizeof(name), "%s%s", alone ? "read " : "", sw_reg_name(reg));
		bms_desc_init(x, alone ? BMS_DIR_REQUEST : BMS_DIR_REPLY, reg, -1, name);
		bms_desc_num(x, "register", reg);
		bms_desc_num(x, "width", frame[2]);
		/* an exchange: request and reply together, the register known */
		if (!alone)
			describe_data(reg, frame + SW_REQ_LEN, x);
		return 0;
	}
	/* a reply alone: its register is the first whose CRC it fits */
	uint8_t w = (uint8_t)(len - 1);
	uint8_t reg = sw_fits(frame, w);
	bms_desc_init(x, BMS_DIR_REPLY, reg, -1, sw_reg_name(reg));
	bms_desc_num(x, "register", reg);
	bms_desc_num(x, "width", w);
	bms_desc_num(x, "register_guessed", 1);
	describe_data(reg, frame, x);
	return 0;
}

/* Poll steps: only the full capacity is static data. */
static const struct bms_step sw_steps[] = {
	[SW_STEP_FULL] = {.flags = BMS_STEP_STATIC,
			  .every = SW_FULL_EVERY,
			  .fills = BMS_V_CAP_FULL},
};
static const uint32_t sw_bauds[] = {9600, 0};
static const struct bms_link sw_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {sw_bauds, BMS_8N1}},
};

const struct bms_driver bms_sinowealth = {
	.name = "sinowealth",
	.description = "Sinowealth-chip Daly boards (3..10 cells), 0A register reads with CRC-8",
	.spec = "BMSTool - Sinowealth register reads; protocols.md section 14",
	.links = sw_links,
	.nlinks = sizeof(sw_links) / sizeof(sw_links[0]),
	.response_timeout_ms = 300,
	.inter_frame_gap_ms = 20,
	/* dbus-serialbattery polls every 2 s; a poll is up to 21 exchanges */
	.poll_interval_ms = 2000,
	.max_frame = SW_REQ_LEN + 4 + 1,
	.flags = BMS_F_OPT_IN,
	.alarms = BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(HIGH_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(LOW_TEMPERATURE) |
		  BMS_ALARM_BIT(HIGH_VOLTAGE) | BMS_ALARM_BIT(HIGH_CURRENT) |
		  BMS_ALARM_BIT(LOW_VOLTAGE) | BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) |
		  BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT),
	.state_size = sizeof(struct sw_state),
	.steps = sw_steps,
	.nsteps = sizeof(sw_steps) / sizeof(sw_steps[0]),
	.init = sw_init,
	.build_request = sw_build_request,
	.frame_check = sw_frame_check,
	.parse = sw_parse,
};
