/* SPDX-License-Identifier: MIT */
/*
 * Daly smart BMS, UART / RS485 "A5" protocol (docs/PROTOCOLS.md "Daly";
 * reference: protocols.md section 4).
 *
 * Link: 9600 8N1. Several boards may share one RS485 bus: board n is asked
 * with host address 0x40 + n - 1 and answers with address byte n. The
 * driver's address is the board number, 1..16.
 *
 * Frame layout: always 13 bytes, both directions (fields big-endian):
 *   A5 addr cmd 08 d0 d1 d2 d3 d4 d5 d6 d7 sum
 * Checksum: sum of bytes 0..11, low 8 bits.
 *
 * Sample (board 1, command 0x90 "SOC, voltage, current"):
 *   request  A5 40 90 08 AA AA AA AA AA AA AA AA CD
 *   reply    A5 01 90 08 02 14 00 00 75 45 03 78 89
 *            -> 53.2 V, current raw 30021 (2.1 A from the 30000 offset), 88.8 %
 *
 * Poll cycle: 0x90 (voltage, current, SOC), 0x93 (FETs, remaining capacity),
 * 0x94 (cell and sensor counts, cycles), 0x95 (cells, multi-frame), 0x96
 * (temperatures, multi-frame), 0x97 (balancing), 0x98 (faults), then 0x50
 * (rated capacity) while we do not have it: on the first cycle after init
 * and every 64th cycle after, because not every firmware answers it and a
 * silent step costs the worker a failed cycle. 0x91/0x92 (max/min cell and
 * temperature) are not polled: the same facts come from the full lists in
 * 0x95/0x96. The probe is 0x90 alone.
 *
 * Multi-frame replies (parse returns 1 until the last frame): 0x95 sends
 * 3 cells per frame, frame numbers 1, 2, ... in order; 0x96 sends 7 sensors
 * per frame. The expected count comes from 0x94 of the same cycle (or an
 * earlier one). Any frame number other than the next one rejects the reply
 * (-EPROTO) so the worker retries the whole step. Some firmware always sends
 * 16 cell frames, the unused ones zero-filled: when such trailing frames turn
 * up after we had enough, the driver remembers it and from then on waits for
 * all 16, which keeps them from spilling into the next step. Without a known
 * cell count (no 0x94 yet), 0x95 collects all 16 frames and takes the count
 * from the last non-zero cell.
 *
 * Decisions where sources conflict:
 * - Request padding: the 8 data bytes are 0xAA, as dbus-serialbattery sends
 *   them (field-proven with the same boards on Venus OS; said to help the
 *   Daly UART sync). The vendor example pads with zeros; the boards ignore
 *   the data bytes of a read, and the simulator accepts either.
 * - Current sign: the field is raw - 30000 in 0.1 A. No captured frame
 *   shows a known direction. Default as dbus-serialbattery and
 *   python-daly-bms: raw < 30000 = charging. But 0x93 byte 0 states the
 *   direction (1 charging, 2 discharging), so the driver checks the sign
 *   against it: after 3 consecutive cycles where the BMS says the opposite
 *   of the sign with at least 1 A flowing, it flips (and flips back the same
 *   way). That covers firmware counting the vendor document's way without a
 *   config option.
 * - Cycle count: 0x94 data bytes 5-6 (mpp-solar's repo test, 3 cycles,
 *   dbus-serialbattery, the Rust crate). One R24TS capture has 0 there and
 *   0x3A in byte 7, which another project reads as cycles; in the mpp-solar
 *   capture byte 7 is 0x40 with 3 cycles, so byte 7 is not the cycle count.
 * - Balancing (0x97): bit 0 of data byte 0 = cell 1 (the Daly document and
 *   the Rust crate). dbus-serialbattery counts down from bit 48; no capture
 *   shows a balancing cell, so the document wins.
 * - Faults (0x98): level 1 bits -> warning (1), level 2 -> alarm (2);
 *   MOSFET over-temperature -> HighInternalTemperature; MOSFET, AFE, sensor,
 *   EEPROM, RTC, communication, precharge and current-module faults ->
 *   InternalFailure; short circuit -> HighCurrent; low-voltage
 *   charge-forbidden -> LowCellVoltage alarm. SOC-high and
 *   temperature-difference have no Victron alarm; the fault code byte 7 is
 *   not documented beyond its name and is not mapped.
 */
#include <errno.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"

#define DALY_LEN 13
#define DALY_START 0xA5
#define DALY_DLEN 0x08
#define DALY_HOST 0x40
#define DALY_PAD 0xAA
#define DALY_BOARDS 16
#define DALY_MAX_FRAMES 16   /* 0x95: 48 cell positions, 3 per frame */
#define DALY_CELLS_PER_FRAME 3
#define DALY_TEMPS_PER_FRAME 7
#define DALY_TEMP_OFFSET 40  /* degC + 40 */
#define DALY_CURRENT_ZERO 30000
#define DALY_OPT_EVERY 64    /* cycles between 0x50 attempts while it is missing */
#define DALY_SIGN_VOTES 3    /* cycles of disagreement before the sign flips */
#define DALY_SIGN_MIN 10     /* 1 A in 0.1 A: below it the direction is noise */

enum {
	CMD_RATED = 0x50,
	CMD_SOC = 0x90,
	CMD_CELL_RANGE = 0x91,
	CMD_TEMP_RANGE = 0x92,
	CMD_MOS = 0x93,
	CMD_STATUS = 0x94,
	CMD_CELLS = 0x95,
	CMD_TEMPS = 0x96,
	CMD_BALANCE = 0x97,
	CMD_FAULTS = 0x98,
};

static const uint8_t poll_cmds[] = {CMD_SOC,   CMD_MOS,     CMD_STATUS, CMD_CELLS,
				    CMD_TEMPS, CMD_BALANCE, CMD_FAULTS};

struct daly_state {
	uint8_t board;       /* 1..16 */
	uint8_t expect;      /* command of the current step */
	uint8_t next_frame;  /* multi-frame: the frame number that must come next */
	uint8_t frames_need; /* multi-frame: frames in this reply (0 = until 16) */
	uint8_t cells;       /* from 0x94; 0 = not known yet */
	uint8_t temps;       /* from 0x94 */
	bool have_counts;
	bool all16;          /* this firmware sends all 16 cell frames */
	bool at_step0;
	unsigned cycle;
	bool have_rated;
	int32_t rated_mah;
	/* current sign check */
	int8_t sign;         /* +1: raw < 30000 is charging (default); -1 the other way */
	uint8_t votes;       /* consecutive cycles contradicting the sign */
	bool cur_seen;       /* 0x90 parsed since the cycle started */
	int32_t cur_raw;     /* raw - 30000 of this cycle, 0.1 A */
	uint16_t cell_buf[DALY_MAX_FRAMES * DALY_CELLS_PER_FRAME];
};

static int daly_init(void *state, uint8_t address)
{
	struct daly_state *st = state;
	if (address > DALY_BOARDS)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->board = address ? address : 1;
	st->sign = 1;
	return 0;
}

static void put_frame(uint8_t addr, uint8_t cmd, const uint8_t data[8], uint8_t *out)
{
	out[0] = DALY_START;
	out[1] = addr;
	out[2] = cmd;
	out[3] = DALY_DLEN;
	memcpy(out + 4, data, 8);
	out[12] = bms_sum8(out, 12);
}

static int daly_build_request(void *state, enum bms_request kind, unsigned step, uint8_t *out,
			      size_t cap)
{
	struct daly_state *st = state;
	uint8_t cmd;
	const size_t npoll = sizeof(poll_cmds);

	if (kind == BMS_REQ_PROBE) {
		if (step > 0)
			return 0;
		cmd = CMD_SOC;
	} else if (kind == BMS_REQ_POLL) {
		if (step < npoll)
			cmd = poll_cmds[step];
		else if (step == npoll && !st->have_rated &&
			 (st->cycle == 1 || st->cycle % DALY_OPT_EVERY == 0))
			cmd = CMD_RATED;
		else
			return 0;
	} else {
		return -EINVAL;
	}
	if (cap < DALY_LEN)
		return -ENOSPC;

	if (step == 0) {
		/* a retry rebuilds step 0: it starts no new cycle */
		if (kind == BMS_REQ_POLL && !st->at_step0)
			st->cycle++;
		st->cur_seen = false;
	}
	st->at_step0 = kind == BMS_REQ_POLL && step == 0;
	st->expect = cmd;
	st->next_frame = 1;
	unsigned need = 1;
	if (cmd == CMD_CELLS)
		need = (st->have_counts && !st->all16)
			       ? (st->cells + DALY_CELLS_PER_FRAME - 1u) / DALY_CELLS_PER_FRAME
			       : 0;
	else if (cmd == CMD_TEMPS)
		/* a board without sensors still sends one (0xFF-filled) frame */
		need = !st->have_counts ? 0
		       : st->temps      ? (st->temps + DALY_TEMPS_PER_FRAME - 1u) / DALY_TEMPS_PER_FRAME
					: 1;
	st->frames_need = (uint8_t)need;

	uint8_t pad[8];
	memset(pad, DALY_PAD, sizeof(pad));
	put_frame((uint8_t)(DALY_HOST + st->board - 1), cmd, pad, out);
	return DALY_LEN;
}

static bool daly_frame_ok(const uint8_t *p, size_t len)
{
	return len == DALY_LEN && p[0] == DALY_START && p[3] == DALY_DLEN &&
	       bms_sum8(p, 12) == p[12];
}

/* bms_check_fn: the UART sends junk at times, so any A5 with length byte 08 is a candidate. */
static int daly_check_at(const void *ctx, const uint8_t *p, size_t avail, size_t *ret_len)
{
	(void)ctx;
	if (p[0] != DALY_START || (avail >= 4 && p[3] != DALY_DLEN))
		return -1;
	if (avail < DALY_LEN)
		return 0;
	if (!daly_frame_ok(p, DALY_LEN))
		return -1;
	*ret_len = DALY_LEN;
	return 1;
}

static enum bms_find daly_frame_find(const uint8_t *buf, size_t len, size_t *ret_start,
				     size_t *ret_len)
{
	return bms_scan_frames(buf, len, daly_check_at, NULL, ret_start, ret_len);
}

/* Level-1 / level-2 bit pairs of 0x98: {byte, first bit, alarm}. */
static const struct {
	uint8_t byte, bit, alarm;
} fault_pairs[] = {
	{0, 0, BMS_ALARM_HIGH_CELL_VOLTAGE},
	{0, 2, BMS_ALARM_LOW_CELL_VOLTAGE},
	{0, 4, BMS_ALARM_HIGH_VOLTAGE},
	{0, 6, BMS_ALARM_LOW_VOLTAGE},
	{1, 0, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
	{1, 2, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
	{1, 4, BMS_ALARM_HIGH_TEMPERATURE},
	{1, 6, BMS_ALARM_LOW_TEMPERATURE},
	{2, 0, BMS_ALARM_HIGH_CHARGE_CURRENT},
	{2, 2, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
	{2, 6, BMS_ALARM_LOW_SOC},
	{3, 0, BMS_ALARM_CELL_IMBALANCE},
};

/* Single bits of 0x98 that are alarms (level 2): {byte, bit, alarm}. */
static const struct {
	uint8_t byte, bit, alarm;
} fault_bits[] = {
	{4, 0, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
	{4, 1, BMS_ALARM_HIGH_INTERNAL_TEMPERATURE},
	{4, 2, BMS_ALARM_INTERNAL_FAILURE},
	{4, 3, BMS_ALARM_INTERNAL_FAILURE},
	{4, 4, BMS_ALARM_INTERNAL_FAILURE},
	{4, 5, BMS_ALARM_INTERNAL_FAILURE},
	{4, 6, BMS_ALARM_INTERNAL_FAILURE},
	{4, 7, BMS_ALARM_INTERNAL_FAILURE},
	{5, 0, BMS_ALARM_INTERNAL_FAILURE},
	{5, 1, BMS_ALARM_INTERNAL_FAILURE},
	{5, 2, BMS_ALARM_INTERNAL_FAILURE},
	{5, 3, BMS_ALARM_INTERNAL_FAILURE},
	{5, 4, BMS_ALARM_INTERNAL_FAILURE},
	{5, 5, BMS_ALARM_INTERNAL_FAILURE},
	{5, 6, BMS_ALARM_INTERNAL_FAILURE},
	{5, 7, BMS_ALARM_INTERNAL_FAILURE},
	{6, 0, BMS_ALARM_INTERNAL_FAILURE},
	{6, 1, BMS_ALARM_INTERNAL_FAILURE},
	{6, 2, BMS_ALARM_HIGH_CURRENT},
	{6, 3, BMS_ALARM_LOW_CELL_VOLTAGE},
};

static void raise_to(struct bms_snapshot *s, uint8_t alarm, uint8_t level)
{
	if (s->alarm[alarm] < level)
		s->alarm[alarm] = level;
}

static void parse_faults(const uint8_t *d, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < sizeof(fault_pairs) / sizeof(fault_pairs[0]); i++) {
		unsigned b = d[fault_pairs[i].byte] >> fault_pairs[i].bit;
		if (b & 2)
			raise_to(s, fault_pairs[i].alarm, 2);
		else if (b & 1)
			raise_to(s, fault_pairs[i].alarm, 1);
	}
	for (size_t i = 0; i < sizeof(fault_bits) / sizeof(fault_bits[0]); i++)
		if ((d[fault_bits[i].byte] >> fault_bits[i].bit) & 1)
			raise_to(s, fault_bits[i].alarm, 2);
	s->valid |= BMS_V_ALARMS;
}

static int32_t current_ma(const struct daly_state *st)
{
	/* dbus-serialbattery's way: (30000 - raw) * 0.1 A is charge-positive */
	return -(int32_t)st->sign * st->cur_raw * 100;
}

/*
 * 0x93 byte 0 names the direction. Count cycles that contradict our sign
 * with a clear current, and flip once they are consistent.
 */
static void check_sign(struct daly_state *st, uint8_t dir, struct bms_snapshot *s)
{
	if (!st->cur_seen || (dir != 1 && dir != 2) ||
	    (st->cur_raw > -DALY_SIGN_MIN && st->cur_raw < DALY_SIGN_MIN))
		return;
	bool charging = current_ma(st) > 0;
	if (charging == (dir == 1)) {
		st->votes = 0;
		return;
	}
	if (++st->votes < DALY_SIGN_VOTES)
		return;
	st->votes = 0;
	st->sign = (int8_t)-st->sign;
	s->current_ma = current_ma(st);
}

/* Multi-frame 0x95. */
static int parse_cells(struct daly_state *st, const uint8_t *d, struct bms_snapshot *s)
{
	uint8_t k = d[0];
	if (k != st->next_frame || k == 0 || k > DALY_MAX_FRAMES)
		return -EPROTO;
	for (unsigned i = 0; i < DALY_CELLS_PER_FRAME; i++)
		st->cell_buf[(k - 1) * DALY_CELLS_PER_FRAME + i] =
			(uint16_t)((d[1 + 2 * i] << 8) | d[2 + 2 * i]);
	st->next_frame++;
	uint8_t need = st->frames_need ? st->frames_need : DALY_MAX_FRAMES;
	if (k < need)
		return 1;

	unsigned n;
	if (st->have_counts) {
		n = st->cells;
	} else {
		/* no 0x94 yet: the zero-filled tail tells where the cells end */
		n = DALY_MAX_FRAMES * DALY_CELLS_PER_FRAME;
		while (n > 0 && st->cell_buf[n - 1] == 0)
			n--;
		if (n == 0 || n > BMS_MAX_CELLS)
			return -EPROTO;
	}
	s->cell_count = (uint8_t)n;
	memcpy(s->cell_mv, st->cell_buf, n * sizeof(s->cell_mv[0]));
	s->valid |= BMS_V_CELLS;
	return 0;
}

/* Multi-frame 0x96. */
static int parse_temps(struct daly_state *st, const uint8_t *d, struct bms_snapshot *s)
{
	uint8_t k = d[0];
	if (k != st->next_frame || k == 0 || k > st->frames_need)
		return -EPROTO;
	for (unsigned i = 0; i < DALY_TEMPS_PER_FRAME; i++) {
		unsigned idx = (unsigned)(k - 1) * DALY_TEMPS_PER_FRAME + i;
		if (idx < st->temps && idx < BMS_MAX_TEMPS)
			s->temp_dc[idx] = (int16_t)((d[1 + i] - DALY_TEMP_OFFSET) * 10);
	}
	st->next_frame++;
	if (k < st->frames_need)
		return 1;
	s->temp_count = st->temps > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : st->temps;
	s->valid |= BMS_V_TEMPS;
	return 0;
}

static int daly_parse(void *state, const uint8_t *frame, size_t len, struct bms_snapshot *snap)
{
	struct daly_state *st = state;
	if (!daly_frame_ok(frame, len))
		return -EBADMSG;
	if (frame[1] != st->board)
		return -EPROTO; /* another board, or a request echo */
	const uint8_t *d = frame + 4;
	if (frame[2] != st->expect) {
		/* surplus zero-filled cell frames of 16-frame firmware */
		if (frame[2] == CMD_CELLS && st->have_counts &&
		    d[0] > (st->cells + DALY_CELLS_PER_FRAME - 1) / DALY_CELLS_PER_FRAME &&
		    d[0] <= DALY_MAX_FRAMES)
			st->all16 = true;
		return -EPROTO;
	}
	struct breader r = br_init(d, 8);

	switch (frame[2]) {
	case CMD_SOC: {
		uint16_t volt = br_u16be(&r);
		br_skip(&r, 2); /* "gathered" voltage, often 0 */
		uint16_t cur = br_u16be(&r);
		uint16_t soc = br_u16be(&r);
		if (soc > 1000)
			return -EPROTO;
		st->cur_raw = (int32_t)cur - DALY_CURRENT_ZERO;
		st->cur_seen = true;
		snap->voltage_mv = (int32_t)volt * 100;
		snap->current_ma = current_ma(st);
		snap->soc_cpct = (uint16_t)(soc * 10u);
		snap->valid |= BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC;
		return 0;
	}
	case CMD_MOS: {
		uint8_t dir = br_u8(&r);
		snap->charge_fet = br_u8(&r) != 0;
		snap->discharge_fet = br_u8(&r) != 0;
		br_skip(&r, 1); /* life counter */
		uint32_t remain = br_u32be(&r);
		if (remain > INT32_MAX)
			return -EPROTO;
		snap->capacity_remain_mah = (int32_t)remain;
		snap->valid |= BMS_V_FETS | BMS_V_CAP_REMAIN;
		if (snap->valid & BMS_V_CURRENT)
			check_sign(st, dir, snap);
		return 0;
	}
	case CMD_STATUS: {
		uint8_t cells = d[0], temps = d[1];
		if (cells == 0 || cells > BMS_MAX_CELLS)
			return -EPROTO;
		st->cells = cells;
		st->temps = temps;
		st->have_counts = true;
		snap->cycles = (uint32_t)((d[5] << 8) | d[6]);
		snap->valid |= BMS_V_CYCLES;
		return 0;
	}
	case CMD_CELLS:
		return parse_cells(st, d, snap);
	case CMD_TEMPS:
		if (!st->have_counts || st->frames_need == 0)
			return -EPROTO; /* how many sensors is only known from 0x94 */
		return parse_temps(st, d, snap);
	case CMD_BALANCE:
		snap->balancing = br_u32le(&r);
		snap->valid |= BMS_V_BALANCING;
		return 0;
	case CMD_FAULTS:
		parse_faults(d, snap);
		return 0;
	case CMD_RATED: {
		uint32_t rated = br_u32be(&r);
		if (rated == 0 || rated > INT32_MAX)
			return -EPROTO;
		st->rated_mah = (int32_t)rated;
		st->have_rated = true;
		snap->capacity_design_mah = snap->capacity_full_mah = st->rated_mah;
		snap->valid |= BMS_V_CAP_DESIGN | BMS_V_CAP_FULL;
		return 0;
	}
	default:
		return -EPROTO;
	}
}

static void daly_finish(void *state, struct bms_snapshot *snap)
{
	const struct daly_state *st = state;
	if (st->have_rated) {
		snap->capacity_design_mah = snap->capacity_full_mah = st->rated_mah;
		snap->valid |= BMS_V_CAP_DESIGN | BMS_V_CAP_FULL;
	}
}

/* ---- simulator ---- */

static uint8_t temp_byte(int16_t dc)
{
	int v = dc / 10 + DALY_TEMP_OFFSET;
	return (uint8_t)(v < 0 ? 0 : v > 0xFE ? 0xFE : v);
}

static void sim_faults(const struct bms_snapshot *s, uint8_t d[8])
{
	if (!(s->valid & BMS_V_ALARMS))
		return;
	for (size_t i = 0; i < sizeof(fault_pairs) / sizeof(fault_pairs[0]); i++) {
		uint8_t lvl = s->alarm[fault_pairs[i].alarm];
		if (lvl)
			d[fault_pairs[i].byte] |= (uint8_t)((lvl >= 2 ? 2u : 1u) << fault_pairs[i].bit);
	}
	/* alarms with no level pair: the first bit that carries them */
	static const uint8_t single[] = {BMS_ALARM_HIGH_INTERNAL_TEMPERATURE,
					 BMS_ALARM_INTERNAL_FAILURE, BMS_ALARM_HIGH_CURRENT};
	for (size_t a = 0; a < sizeof(single); a++) {
		if (s->alarm[single[a]] < 2)
			continue;
		for (size_t i = 0; i < sizeof(fault_bits) / sizeof(fault_bits[0]); i++)
			if (fault_bits[i].alarm == single[a]) {
				d[fault_bits[i].byte] |= (uint8_t)(1u << fault_bits[i].bit);
				break;
			}
	}
}

static int daly_sim_respond(const struct bms_snapshot *s, uint8_t address, const uint8_t *req,
			    size_t req_len, uint8_t *out, size_t cap)
{
	uint8_t board = address ? address : 1;
	/* any padding is fine; only this board's host address is answered */
	if (!daly_frame_ok(req, req_len) || req[1] != DALY_HOST + board - 1)
		return 0;
	uint8_t d[8];
	memset(d, 0, sizeof(d));
	size_t frames = 1;
	unsigned cells = s->cell_count > BMS_MAX_CELLS ? BMS_MAX_CELLS : s->cell_count;
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	uint8_t cmd = req[2];

	switch (cmd) {
	case CMD_SOC: {
		int32_t raw = DALY_CURRENT_ZERO - s->current_ma / 100;
		put_u16be(d, (uint16_t)(s->voltage_mv / 100));
		put_u16be(d + 4, (uint16_t)(raw < 0 ? 0 : raw > 0xFFFF ? 0xFFFF : raw));
		put_u16be(d + 6, (uint16_t)(s->soc_cpct / 10));
		break;
	}
	case CMD_MOS:
		d[0] = s->current_ma > 0 ? 1 : s->current_ma < 0 ? 2 : 0;
		d[1] = s->charge_fet;
		d[2] = s->discharge_fet;
		put_u32be(d + 4, (uint32_t)(s->capacity_remain_mah < 0 ? 0 : s->capacity_remain_mah));
		break;
	case CMD_STATUS:
		d[0] = (uint8_t)cells;
		d[1] = (uint8_t)temps;
		d[2] = s->current_ma > 0;
		d[3] = s->current_ma < 0;
		put_u16be(d + 5, (uint16_t)(s->cycles > 0xFFFF ? 0xFFFF : s->cycles));
		break;
	case CMD_CELLS:
		frames = (cells + DALY_CELLS_PER_FRAME - 1) / DALY_CELLS_PER_FRAME;
		break;
	case CMD_TEMPS:
		frames = temps ? (temps + DALY_TEMPS_PER_FRAME - 1) / DALY_TEMPS_PER_FRAME : 1;
		break;
	case CMD_BALANCE:
		put_u32le(d, s->balancing);
		break;
	case CMD_FAULTS:
		sim_faults(s, d);
		break;
	case CMD_RATED:
		put_u32be(d, (uint32_t)(s->capacity_design_mah < 0 ? 0 : s->capacity_design_mah));
		put_u32be(d + 4, 3200); /* nominal cell voltage, mV (LFP) */
		break;
	default:
		return 0;
	}
	if (frames * DALY_LEN > cap)
		return -ENOSPC;
	for (size_t k = 0; k < frames; k++) {
		if (cmd == CMD_CELLS) {
			memset(d, 0, sizeof(d));
			d[0] = (uint8_t)(k + 1);
			for (unsigned i = 0; i < DALY_CELLS_PER_FRAME; i++) {
				unsigned c = (unsigned)k * DALY_CELLS_PER_FRAME + i;
				if (c < cells)
					put_u16be(d + 1 + 2 * i, s->cell_mv[c]);
			}
		} else if (cmd == CMD_TEMPS) {
			memset(d, 0xFF, sizeof(d)); /* 0xFF = no sensor */
			d[0] = (uint8_t)(k + 1);
			for (unsigned i = 0; i < DALY_TEMPS_PER_FRAME; i++) {
				unsigned t = (unsigned)k * DALY_TEMPS_PER_FRAME + i;
				if (t < temps)
					d[1 + i] = temp_byte(s->temp_dc[t]);
			}
		}
		put_frame(board, cmd, d, out + k * DALY_LEN);
	}
	return (int)(frames * DALY_LEN);
}

static const uint32_t daly_bauds[] = {9600, 0};
static const uint8_t daly_addresses[] = {1, 0};

const struct bms_driver bms_daly = {
	.name = "daly",
	.description = "Daly smart BMS, UART/RS485 A5 protocol (13-byte frames)",
	.spec = "Daly UART/RS485 communication protocol; protocols.md section 4",
	.bauds = daly_bauds,
	.framing = BMS_8N1,
	.addresses = daly_addresses, /* board numbers; host address 0x40 + n - 1 */
	.address_min = 1,
	.address_max = DALY_BOARDS,
	.response_timeout_ms = 400,
	/* Daly boards want >= 20 ms of silence before a request; more on a shared bus */
	.inter_frame_gap_ms = 30,
	.poll_interval_ms = 2000,
	.max_frame = DALY_LEN,
	.flags = BMS_F_ADDRESSED,
	.state_size = sizeof(struct daly_state),
	.init = daly_init,
	.build_request = daly_build_request,
	.frame_find = daly_frame_find,
	.parse = daly_parse,
	.finish = daly_finish,
	.sim_respond = daly_sim_respond,
};
