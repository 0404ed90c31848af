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
 * (rated capacity), declared static data (BMS_STEP_STATIC): the core asks it
 * on the first cycle after init and every 64th cycle after while it is
 * missing, and carries it into later cycles, because not every firmware
 * answers it and a silent step costs the worker a failed cycle. 0x91/0x92 (max/min cell and
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
#include "daly_wire.h"

#define DALY_OPT_EVERY 64 /* cycles between 0x50 attempts while it is missing */
#define DALY_SIGN_VOTES 3 /* cycles of disagreement before the sign flips */
#define DALY_SIGN_MIN 10  /* 1 A in 0.1 A: below it the direction is noise */

static const uint8_t poll_cmds[] = {CMD_SOC,   CMD_MOS,     CMD_STATUS, CMD_CELLS,
				    CMD_TEMPS, CMD_BALANCE, CMD_FAULTS};

struct daly_state {
	uint8_t board;       /* 1..16 */
	uint8_t next_frame;  /* multi-frame: the frame number that must come next */
	uint8_t frames_need; /* multi-frame: frames in this reply (0 = until 16) */
	uint8_t cells;       /* from 0x94; 0 = not known yet */
	uint8_t temps;       /* from 0x94 */
	bool have_counts;
	bool all16; /* this firmware sends all 16 cell frames */
	/* current sign check */
	int8_t sign;     /* +1: raw < 30000 is charging (default); -1 the other way */
	uint8_t votes;   /* consecutive cycles contradicting the sign */
	bool cur_seen;   /* 0x90 parsed since the cycle started */
	int32_t cur_raw; /* raw - 30000 of this cycle, 0.1 A */
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

/* The command a request descriptor stands for; 0 = the cycle has no such step. */
static uint8_t daly_cmd(const struct bms_request *req)
{
	if (req->kind == BMS_REQ_PROBE)
		return req->step == 0 ? CMD_SOC : 0;
	if (req->kind != BMS_REQ_POLL)
		return 0;
	if (req->step < sizeof(poll_cmds))
		return poll_cmds[req->step];
	return req->step == sizeof(poll_cmds) ? CMD_RATED : 0;
}

static int daly_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct daly_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	uint8_t cmd = daly_cmd(req);
	if (cmd == 0)
		return 0;
	if (cap < DALY_LEN)
		return -ENOSPC;

	if (req->step == 0)
		st->cur_seen = false;
	st->next_frame = 1;
	unsigned need = 1;
	if (cmd == CMD_CELLS)
		need = (st->have_counts && !st->all16)
			       ? (st->cells + DALY_CELLS_PER_FRAME - 1u) / DALY_CELLS_PER_FRAME
			       : 0;
	else if (cmd == CMD_TEMPS)
		/* a board without sensors still sends one (0xFF-filled) frame */
		need = !st->have_counts ? 0
		       : st->temps ? (st->temps + DALY_TEMPS_PER_FRAME - 1u) / DALY_TEMPS_PER_FRAME
				   : 1;
	st->frames_need = (uint8_t)need;

	uint8_t pad[8];
	memset(pad, DALY_PAD, sizeof(pad));
	daly_put_frame((uint8_t)(DALY_HOST + st->board - 1), cmd, pad, out);
	return DALY_LEN;
}

/* frame_check: the UART sends junk at times, so any A5 with length byte 08 is a candidate. */
static int daly_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (p[0] != DALY_START || (avail >= 4 && p[3] != DALY_DLEN))
		return -1;
	if (avail < DALY_LEN)
		return 0;
	if (!daly_frame_ok(p, DALY_LEN))
		return -1;
	*ret_len = DALY_LEN;
	return 1;
}

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

static int daly_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		      struct bms_snapshot *snap)
{
	struct daly_state *st = state;
	if (!daly_frame_ok(frame, len))
		return -EBADMSG;
	if (frame[1] != st->board)
		return -EPROTO; /* another board, or a request echo */
	const uint8_t *d = frame + 4;
	if (frame[2] != daly_cmd(req)) {
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
		snap->capacity_design_mah = snap->capacity_full_mah = (int32_t)rated;
		snap->valid |= BMS_V_CAP_DESIGN | BMS_V_CAP_FULL;
		return 0;
	}
	default:
		return -EPROTO;
	}
}

/* The poll steps: 0x90 ... 0x98, then 0x50 rated capacity, static data. */
static const struct bms_step daly_steps[] = {
	[sizeof(poll_cmds)] = {.flags = BMS_STEP_STATIC,
			       .every = DALY_OPT_EVERY,
			       .fills = BMS_V_CAP_DESIGN | BMS_V_CAP_FULL},
};
static const uint32_t daly_bauds[] = {9600, 0};
static const struct bms_link daly_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {daly_bauds, BMS_8N1}},
};
static const uint8_t daly_addresses[] = {1, 0};

const struct bms_driver bms_daly = {
	.name = "daly",
	.description = "Daly smart BMS, UART/RS485 A5 protocol (13-byte frames)",
	.spec = "Daly UART/RS485 communication protocol; protocols.md section 4",
	.links = daly_links,
	.nlinks = sizeof(daly_links) / sizeof(daly_links[0]),
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
	.steps = daly_steps,
	.nsteps = sizeof(daly_steps) / sizeof(daly_steps[0]),
	.init = daly_init,
	.build_request = daly_build_request,
	.frame_check = daly_frame_check,
	.parse = daly_parse,
};
