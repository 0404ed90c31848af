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
 * BMS_REQ_READ reads any of 0x90..0x98, 0x50, 0x53 (production date) and 0x57
 * (battery code). 0x91, 0x92, 0x53 and 0x57 are decoded and accepted but put
 * nothing in the snapshot: a max/min pair is no cell or sensor list, and the
 * snapshot has no date; describe() shows their values.
 *
 * Foreign frames (BMS_FOREIGN, snapshot untouched): any request (address
 * 0x40.., 0x80 or 0x20: a Daly display or WiFi module polling, or the echo of
 * our own request), another board's reply, and a reply to another command
 * than asked (another master's exchange, or the surplus cell frames below).
 *
 * Multi-frame replies (parse returns 1 until the last frame): 0x95 sends
 * 3 cells per frame, frame numbers 1, 2, ... in order; 0x96 sends 7 sensors
 * per frame. The expected count comes from 0x94 of the same cycle (or an
 * earlier one). Any frame number other than the next one rejects the reply
 * (-EPROTO) so the worker retries the whole step; the frames are collected
 * in the driver state and reach the snapshot only with the last one, so a
 * broken sequence leaves the snapshot as it was. Some firmware always sends
 * 16 cell frames, the unused ones zero-filled: when such trailing frames turn
 * up after we had enough, the driver remembers it and from then on waits for
 * all 16, which keeps them from spilling into the next step (a READ, i.e. a
 * capture, takes the frames the count needs and each surplus frame alone as
 * filler that carries nothing). Without a known
 * cell count (no 0x94 yet), 0x95 collects all 16 frames and takes the count
 * from the last non-zero cell. Without a known sensor count, a 0x96 frame's
 * sensors are its bytes before the first 0x00 or 0xFF (unused positions are
 * filled with either: a live R24TS sends 38 38 00 00 FF FF FF for two
 * sensors); a frame whose 7 bytes are all sensors means another frame
 * follows. With a count from 0x94, the bytes past it are ignored whatever
 * they hold.
 *
 * Writes (protocols.md section 4, "Write commands"), one 13-byte frame each,
 * data bytes not named there zero:
 *   0xDA charge FET, 0xD9 discharge FET: data byte 0 = 1 on, 0 off;
 *     A5 40 DA 08 00 00 00 00 00 00 00 00 C7 = charge FET off (board 1)
 *   0x21 SOC: data YY MM DD hh mm ss (the local clock, which the BMS keeps
 *     with it; from req->local_time_s) then SOC x 10 as BE u16.
 * The reply is a frame of the same data ID from the board. protocols.md does
 * not give its data; dbus-serialbattery's daly.py takes a FET write as done
 * when data byte 0 echoes the value sent, an SOC write when it is 1. Anything
 * else is a refusal (-EPERM). Commands: CHARGE_FET, DISCHARGE_FET (STANDBY
 * through both, worker_set) and SOC (0.01 %, rounded to the protocol's 0.1 %).
 * The balancer has no documented write.
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
 * - Faults (0x98): every bit's destination is the table daly_faults
 *   (daly_wire.h): level 1 bits -> warning (1), level 2 -> alarm (2);
 *   MOSFET over-temperature -> HighInternalTemperature; MOSFET, AFE, sensor,
 *   EEPROM, RTC, communication, precharge and current-module faults ->
 *   InternalFailure; short circuit -> HighCurrent; low-voltage
 *   charge-forbidden -> LowCellVoltage alarm. SOC-high, temperature-
 *   difference and the reserved bits have no Victron alarm and show only in
 *   describe(); the fault code byte 7 is not documented beyond its name and
 *   is an item, not an alarm.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "daly_wire.h"

#define DALY_OPT_EVERY 64  /* cycles between 0x50 attempts while it is missing */
#define DALY_SIGN_VOTES 3  /* cycles of disagreement before the sign flips */
#define DALY_SIGN_MIN 10   /* 1 A in 0.1 A: below it the direction is noise */
#define DALY_TEMP_FRAMES 2 /* 0x96 frames that can fill BMS_MAX_TEMPS */

static const uint8_t poll_cmds[] = {CMD_SOC,   CMD_MOS,     CMD_STATUS, CMD_CELLS,
				    CMD_TEMPS, CMD_BALANCE, CMD_FAULTS};

struct daly_state {
	uint8_t board;       /* 1..16 */
	uint8_t next_frame;  /* multi-frame: the frame number that must come next */
	uint8_t frames_need; /* multi-frame: frames in this reply (0 = not known) */
	uint8_t cells;       /* from 0x94; 0 = not known yet */
	uint8_t temps;       /* from 0x94 */
	uint8_t temps_seen;  /* 0x96 without a count: sensors collected so far */
	bool have_counts;
	bool all16; /* this firmware sends all 16 cell frames */
	/* current sign check */
	int8_t sign;     /* +1: raw < 30000 is charging (default); -1 the other way */
	uint8_t votes;   /* consecutive cycles contradicting the sign */
	bool cur_seen;   /* 0x90 parsed since the cycle started */
	int32_t cur_raw; /* raw - 30000 of this cycle, 0.1 A */
	/* a multi-frame reply is collected here and reaches the snapshot whole */
	uint16_t cell_buf[DALY_MAX_FRAMES * DALY_CELLS_PER_FRAME];
	int16_t temp_buf[BMS_MAX_TEMPS];
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

/* Commands BMS_REQ_READ reads: every read the protocol defines. */
static bool daly_readable(unsigned cmd)
{
	return (cmd >= CMD_SOC && cmd <= CMD_FAULTS) || cmd == CMD_RATED || cmd == CMD_DATE ||
	       cmd == CMD_CODE;
}

/* The command a request descriptor stands for; 0 = the cycle has no such step. */
static uint8_t daly_cmd(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? CMD_SOC : 0;
	case BMS_REQ_POLL:
		if (req->step < sizeof(poll_cmds))
			return poll_cmds[req->step];
		return req->step == sizeof(poll_cmds) ? CMD_RATED : 0;
	case BMS_REQ_READ:
		return daly_readable(req->reg) ? (uint8_t)req->reg : 0;
	case BMS_REQ_SET:
		if (req->step > 0)
			return 0;
		return req->command == BMS_CMD_CHARGE_FET      ? CMD_SET_CHG_FET
		       : req->command == BMS_CMD_DISCHARGE_FET ? CMD_SET_DSG_FET
		       : req->command == BMS_CMD_SOC           ? CMD_SET_SOC
							       : 0;
	default:
		return 0;
	}
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian; pure arithmetic). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/*
 * The 8 data bytes of a write, or a negative errno: -EOPNOTSUPP for a
 * command Daly has no write for, -EINVAL for a value it cannot take (or no
 * clock for 0x21, whose date fields cannot be left out).
 */
static int daly_set_data(const struct bms_request *req, uint8_t d[8])
{
	memset(d, 0, 8);
	switch (req->command) {
	case BMS_CMD_CHARGE_FET:
	case BMS_CMD_DISCHARGE_FET:
		if (req->value != 0 && req->value != 1)
			return -EINVAL;
		d[0] = (uint8_t)req->value; /* 1 on, 0 off */
		return 0;
	case BMS_CMD_SOC: {
		if (req->value < 0 || req->value > 10000)
			return -EINVAL;
		int64_t t = req->local_time_s, y;
		unsigned mo, day;
		civil_from_days(t / 86400, &y, &mo, &day);
		if (t <= 0 || y < 2000 || y > 2255)
			return -EINVAL;
		int64_t sec = t % 86400;
		d[0] = (uint8_t)(y - 2000);
		d[1] = (uint8_t)mo;
		d[2] = (uint8_t)day;
		d[3] = (uint8_t)(sec / 3600);
		d[4] = (uint8_t)(sec / 60 % 60);
		d[5] = (uint8_t)(sec % 60);
		/* 0.01 % to the protocol's 0.1 %, to the nearest */
		put_u16be(d + 6, (uint16_t)((req->value + 5) / 10));
		return 0;
	}
	default:
		return -EOPNOTSUPP;
	}
}

static unsigned cell_frames(unsigned cells)
{
	return (cells + DALY_CELLS_PER_FRAME - 1u) / DALY_CELLS_PER_FRAME;
}

static int daly_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct daly_state *st = state;
	if (req->kind == BMS_REQ_SET) {
		uint8_t d[8];
		int r = daly_set_data(req, d);
		if (r < 0)
			return r;
		uint8_t cmd = daly_cmd(req);
		if (cmd == 0)
			return 0; /* one step only */
		if (cap < DALY_LEN)
			return -ENOSPC;
		daly_put_frame((uint8_t)(DALY_HOST + st->board - 1), cmd, d, out);
		return DALY_LEN;
	}
	if (req->kind == BMS_REQ_READ && !daly_readable(req->reg))
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && req->step > 0)
		return 0;
	uint8_t cmd = daly_cmd(req);
	if (cmd == 0)
		return 0;
	if (cap < DALY_LEN)
		return -ENOSPC;

	if (req->step == 0 && req->kind != BMS_REQ_READ)
		st->cur_seen = false;
	st->next_frame = 1;
	st->temps_seen = 0;
	unsigned need = 1;
	if (cmd == CMD_CELLS)
		/* a READ (a capture) never waits for the surplus: it may not be there */
		need = st->have_counts && (!st->all16 || req->kind == BMS_REQ_READ)
			       ? cell_frames(st->cells)
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

static bool is_request_addr(uint8_t a)
{
	return a == DALY_HOST_BT || a == DALY_HOST_GPRS ||
	       (a >= DALY_HOST && a < DALY_HOST + DALY_BOARDS);
}

static void raise_to(struct bms_snapshot *s, uint8_t alarm, uint8_t level)
{
	if (s->alarm[alarm] < level)
		s->alarm[alarm] = level;
}

static void parse_faults(const uint8_t *d, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < DALY_FAULT_BITS; i++) {
		const struct daly_fault *f = &daly_faults[i];
		if (f->alarm != DALY_NO_ALARM && ((d[f->byte] >> f->bit) & 1))
			raise_to(s, f->alarm, f->level);
	}
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

/*
 * A zero-filled 0x95 frame past the frames the known cell count needs: the
 * surplus of firmware that always sends 16. Remembered, so the next cell
 * step waits for all of them.
 */
static bool cell_surplus(struct daly_state *st, const uint8_t *d)
{
	if (!st->have_counts || d[0] <= cell_frames(st->cells) || d[0] > DALY_MAX_FRAMES)
		return false;
	for (unsigned i = 1; i < 7; i++)
		if (d[i])
			return false;
	st->all16 = true;
	return true;
}

/* Multi-frame 0x95. */
static int parse_cells(struct daly_state *st, const struct bms_request *req, const uint8_t *d,
		       struct bms_snapshot *s)
{
	uint8_t k = d[0];
	if (k != st->next_frame || k == 0 || k > DALY_MAX_FRAMES) {
		/* in a capture, a surplus frame after a whole list is filler: nothing to apply */
		if (cell_surplus(st, d) && req->kind == BMS_REQ_READ && st->next_frame == 1)
			return 0;
		st->next_frame = 0; /* the rest of this reply is refused too */
		return -EPROTO;
	}
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

/* Sensors in a 0x96 frame when no count is known: the bytes before the first 0x00 or 0xFF. */
static unsigned temps_in_frame(const uint8_t *d)
{
	unsigned n = 0;
	while (n < DALY_TEMPS_PER_FRAME && d[1 + n] != 0x00 && d[1 + n] != 0xFF)
		n++;
	return n;
}

/* Multi-frame 0x96. */
static int parse_temps(struct daly_state *st, const uint8_t *d, struct bms_snapshot *s)
{
	uint8_t k = d[0];
	unsigned last = st->frames_need ? st->frames_need : DALY_MAX_FRAMES;
	if (k != st->next_frame || k == 0 || k > last) {
		st->next_frame = 0; /* the rest of this reply is refused too */
		return -EPROTO;
	}
	unsigned n = st->frames_need ? DALY_TEMPS_PER_FRAME : temps_in_frame(d);
	for (unsigned i = 0; i < n; i++) {
		unsigned idx = (unsigned)(k - 1) * DALY_TEMPS_PER_FRAME + i;
		if (idx < BMS_MAX_TEMPS)
			st->temp_buf[idx] = (int16_t)((d[1 + i] - DALY_TEMP_OFFSET) * 10);
	}
	st->next_frame++;
	unsigned count;
	if (st->frames_need) {
		if (k < st->frames_need)
			return 1;
		count = st->temps;
	} else {
		/* no count: a frame full of sensors may have a successor */
		st->temps_seen = (uint8_t)(st->temps_seen + n);
		if (n == DALY_TEMPS_PER_FRAME && k < DALY_TEMP_FRAMES)
			return 1;
		count = st->temps_seen;
	}
	if (count > BMS_MAX_TEMPS)
		count = BMS_MAX_TEMPS;
	s->temp_count = (uint8_t)count;
	memcpy(s->temp_dc, st->temp_buf, count * sizeof(s->temp_dc[0]));
	s->valid |= BMS_V_TEMPS;
	return 0;
}

static int daly_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		      struct bms_snapshot *snap)
{
	struct daly_state *st = state;
	if (!daly_frame_ok(frame, len))
		return -EBADMSG;
	/* a request (another master's, our echo) or another board's reply */
	if (frame[1] != st->board)
		return BMS_FOREIGN;
	const uint8_t *d = frame + 4;
	uint8_t cmd = daly_cmd(req);
	if (req->kind == BMS_REQ_READ && cmd == 0)
		return -EPROTO; /* not a command READ has */
	if (frame[2] != cmd) {
		/* surplus zero-filled cell frames of 16-frame firmware are learnt */
		if (frame[2] == CMD_CELLS)
			cell_surplus(st, d);
		return BMS_FOREIGN; /* answers another command: someone else's exchange */
	}
	if (req->kind == BMS_REQ_SET) {
		uint8_t want[8];
		if (daly_set_data(req, want) < 0)
			return -EPROTO;
		/* a FET write echoes the state it took, an SOC write says 1 for done */
		bool took = cmd == CMD_SET_SOC ? d[0] == 1 : d[0] == want[0];
		return took ? 0 : -EPERM;
	}
	struct breader r = br_init(d, 8);

	switch (frame[2]) {
	case CMD_SOC: {
		uint16_t volt = br_u16be(&r);
		br_skip(&r, 2); /* "gathered" voltage, often 0 (describe shows it) */
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
	case CMD_CELL_RANGE:
		/* max below min is no reading; the values are describe()'s */
		if (((d[0] << 8) | d[1]) < ((d[3] << 8) | d[4]))
			return -EPROTO;
		return 0;
	case CMD_TEMP_RANGE:
		if (d[0] < d[2])
			return -EPROTO;
		return 0;
	case CMD_MOS: {
		uint8_t dir = br_u8(&r);
		bool chg = br_u8(&r) != 0;
		bool dsg = br_u8(&r) != 0;
		br_skip(&r, 1); /* life counter */
		uint32_t remain = br_u32be(&r);
		if (remain > INT32_MAX)
			return -EPROTO;
		snap->charge_fet = chg;
		snap->discharge_fet = dsg;
		snap->capacity_remain_mah = (int32_t)remain;
		snap->valid |= BMS_V_FETS | BMS_V_CAP_REMAIN;
		/* a capture's READ does not vote: only the live poll learns the sign */
		if (req->kind == BMS_REQ_POLL && (snap->valid & BMS_V_CURRENT))
			check_sign(st, dir, snap);
		return 0;
	}
	case CMD_STATUS: {
		uint8_t cells = d[0], temps = d[1];
		if (cells == 0 || cells > BMS_MAX_CELLS ||
		    temps > DALY_MAX_FRAMES * DALY_TEMPS_PER_FRAME)
			return -EPROTO;
		st->cells = cells;
		st->temps = temps;
		st->have_counts = true;
		snap->cells_reported = cells;
		snap->temps_reported = temps;
		snap->cycles = (uint32_t)((d[5] << 8) | d[6]);
		snap->valid |= BMS_V_CYCLES | BMS_V_COUNTS;
		return 0;
	}
	case CMD_CELLS:
		return parse_cells(st, req, d, snap);
	case CMD_TEMPS:
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
	case CMD_DATE:
		/* month and day must be a date; the values are describe()'s */
		if (d[3] < 1 || d[3] > 12 || d[4] < 1 || d[4] > 31)
			return -EPROTO;
		return 0;
	case CMD_CODE:
		/* one frame of 7 characters each; the text is describe()'s */
		if (d[0] == 0 || d[0] > 5)
			return -EPROTO;
		return 0;
	default:
		return -EPROTO;
	}
}

/* ---- describe ---- */

static void desc_hex(struct bms_frame_desc *dd, const char *key, const uint8_t *p, size_t n)
{
	char hex[2 * 8 + 1];
	for (size_t i = 0; i < n && i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02X", p[i]);
	bms_desc_text(dd, key, hex, 2 * (n < 8 ? n : 8));
}

static void desc_request(const uint8_t *f, struct bms_frame_desc *dd)
{
	const uint8_t *d = f + 4;
	uint8_t a = f[1];
	const char *name = f[2] == CMD_SET_SOC       ? "set SOC and clock"
			   : f[2] == CMD_SET_DSG_FET ? "set discharge FET"
			   : f[2] == CMD_SET_CHG_FET ? "set charge FET"
						     : "read";
	int board = a >= DALY_HOST && a < DALY_HOST + DALY_BOARDS ? a - DALY_HOST + 1 : -1;
	bms_desc_init(dd, BMS_DIR_REQUEST, f[2], board, name);
	bms_desc_num(dd, "host_address", a);
	const char *sender = a == DALY_HOST_BT     ? "bluetooth/display"
			     : a == DALY_HOST_GPRS ? "gprs"
						   : "host";
	bms_desc_text(dd, "sender", sender, strlen(sender));
	switch (f[2]) {
	case CMD_SET_SOC:
		bms_desc_num(dd, "year", 2000 + d[0]);
		bms_desc_num(dd, "month", d[1]);
		bms_desc_num(dd, "day", d[2]);
		bms_desc_num(dd, "hour", d[3]);
		bms_desc_num(dd, "minute", d[4]);
		bms_desc_num(dd, "second", d[5]);
		bms_desc_num(dd, "soc_pct", ((d[6] << 8) | d[7]) / 10.0);
		return;
	case CMD_SET_DSG_FET:
		bms_desc_num(dd, "discharge_fet_on", d[0]);
		return;
	case CMD_SET_CHG_FET:
		bms_desc_num(dd, "charge_fet_on", d[0]);
		return;
	default:
		break;
	}
	/* a read: the data bytes are filler (zeros in the vendor example, 0xAA from us) */
	bool same = true;
	for (unsigned i = 1; i < 8; i++)
		same = same && d[i] == d[0];
	if (same) {
		char fill[8];
		snprintf(fill, sizeof(fill), "0x%02X", d[0]);
		bms_desc_text(dd, "filler", fill, strlen(fill));
	} else {
		desc_hex(dd, "data_hex", d, 8);
	}
}

static const char *reply_name(uint8_t cmd)
{
	switch (cmd) {
	case CMD_SOC:
		return "voltage, current, SOC";
	case CMD_CELL_RANGE:
		return "max/min cell";
	case CMD_TEMP_RANGE:
		return "max/min temperature";
	case CMD_MOS:
		return "state, FETs, capacity";
	case CMD_STATUS:
		return "status";
	case CMD_CELLS:
		return "cell voltages";
	case CMD_TEMPS:
		return "temperatures";
	case CMD_BALANCE:
		return "balancing";
	case CMD_FAULTS:
		return "faults";
	case CMD_RATED:
		return "rated capacity";
	case CMD_DATE:
		return "production date";
	case CMD_CODE:
		return "battery code";
	case CMD_SET_SOC:
		return "set SOC reply";
	case CMD_SET_DSG_FET:
		return "discharge FET reply";
	case CMD_SET_CHG_FET:
		return "charge FET reply";
	default:
		return NULL;
	}
}

static void desc_faults(const uint8_t *d, struct bms_frame_desc *dd)
{
	bool any = false;
	for (unsigned i = 0; i < 7; i++)
		any = any || d[i];
	bms_desc_num(dd, "fault", any);
	desc_hex(dd, "fault_bytes", d, 7);
	bms_desc_num(dd, "fault_code", d[7]);
	for (size_t i = 0; i < DALY_FAULT_BITS; i++)
		if ((d[daly_faults[i].byte] >> daly_faults[i].bit) & 1)
			bms_desc_num(dd, daly_faults[i].name, 1);
}

static void desc_reply(const uint8_t *f, struct bms_frame_desc *dd)
{
	const uint8_t *d = f + 4;
	char key[BMS_DESC_KEY];
	const char *name = reply_name(f[2]);
	bms_desc_init(dd, BMS_DIR_REPLY, f[2], f[1], name ? name : "undocumented");
	switch (f[2]) {
	case CMD_SOC: {
		int raw = (d[4] << 8) | d[5];
		bms_desc_num(dd, "gather_voltage_v", ((d[2] << 8) | d[3]) / 10.0);
		bms_desc_num(dd, "current_raw", raw);
		bms_desc_num(dd, "current_a_offset30000", (raw - DALY_CURRENT_ZERO) / 10.0);
		break;
	}
	case CMD_CELL_RANGE: {
		int max = (d[0] << 8) | d[1], min = (d[3] << 8) | d[4];
		bms_desc_num(dd, "max_cell_v", max / 1000.0);
		bms_desc_num(dd, "max_cell_no", d[2]);
		bms_desc_num(dd, "min_cell_v", min / 1000.0);
		bms_desc_num(dd, "min_cell_no", d[5]);
		bms_desc_num(dd, "cell_delta_mv", max - min);
		break;
	}
	case CMD_TEMP_RANGE:
		bms_desc_num(dd, "max_temp_c", d[0] - DALY_TEMP_OFFSET);
		bms_desc_num(dd, "max_temp_no", d[1]);
		bms_desc_num(dd, "min_temp_c", d[2] - DALY_TEMP_OFFSET);
		bms_desc_num(dd, "min_temp_no", d[3]);
		break;
	case CMD_MOS:
		bms_desc_num(dd, "state", d[0]);
		bms_desc_num(dd, "bms_life", d[3]);
		break;
	case CMD_STATUS:
		/* the counts are the snapshot's bms_cell_count / bms_temp_count */
		bms_desc_num(dd, "charger", d[2]);
		bms_desc_num(dd, "load", d[3]);
		for (unsigned i = 0; i < 4; i++) {
			snprintf(key, sizeof(key), "di%u", i + 1);
			bms_desc_num(dd, key, (d[4] >> i) & 1);
		}
		for (unsigned i = 0; i < 4; i++) {
			snprintf(key, sizeof(key), "do%u", i + 1);
			bms_desc_num(dd, key, (d[4] >> (4 + i)) & 1);
		}
		bms_desc_num(dd, "byte7_raw", d[7]);
		break;
	case CMD_CELLS:
		dd->continues = d[0] > 1;
		bms_desc_num(dd, "frame", d[0]);
		for (unsigned i = 0; i < DALY_CELLS_PER_FRAME && d[0] > 0; i++) {
			snprintf(key, sizeof(key), "cell%u_v",
				 (d[0] - 1u) * DALY_CELLS_PER_FRAME + i + 1);
			bms_desc_num(dd, key, ((d[1 + 2 * i] << 8) | d[2 + 2 * i]) / 1000.0);
		}
		break;
	case CMD_TEMPS: {
		dd->continues = d[0] > 1;
		bms_desc_num(dd, "frame", d[0]);
		/* stateless: the sensors are the bytes before the first 0x00/0xFF */
		unsigned n = temps_in_frame(d);
		bms_desc_num(dd, "sensors_in_frame", n);
		for (unsigned i = 0; i < n && d[0] > 0; i++) {
			snprintf(key, sizeof(key), "temp%u_c",
				 (d[0] - 1u) * DALY_TEMPS_PER_FRAME + i + 1);
			bms_desc_num(dd, key, d[1 + i] - DALY_TEMP_OFFSET);
		}
		break;
	}
	case CMD_BALANCE: {
		unsigned n = 0;
		for (unsigned i = 0; i < 6 * 8; i++)
			n += (d[i / 8] >> (i % 8)) & 1u;
		desc_hex(dd, "balancing_bits", d, 6);
		bms_desc_num(dd, "balancing_cells", n);
		break;
	}
	case CMD_FAULTS:
		desc_faults(d, dd);
		break;
	case CMD_RATED:
		bms_desc_num(dd, "nominal_cell_v",
			     (double)(((uint32_t)d[4] << 24) | ((uint32_t)d[5] << 16) |
				      ((uint32_t)d[6] << 8) | d[7]) /
				     1000.0);
		break;
	case CMD_DATE: {
		char date[16];
		snprintf(date, sizeof(date), "%04u-%02u-%02u", 2000u + d[2], (unsigned)d[3],
			 (unsigned)d[4]);
		bms_desc_text(dd, "production_date", date, strlen(date));
		break;
	}
	case CMD_CODE:
		dd->continues = d[0] > 1;
		bms_desc_num(dd, "frame", d[0]);
		bms_desc_text(dd, "battery_code_part", (const char *)d + 1, 7);
		break;
	default:
		desc_hex(dd, "data_hex", d, 8);
		break;
	}
}

int bms_daly_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *d)
{
	if (!daly_frame_ok(frame, len))
		return -1;
	uint8_t a = frame[1];
	if (is_request_addr(a))
		desc_request(frame, d);
	else if (a >= 1 && a <= DALY_BOARDS)
		desc_reply(frame, d);
	else
		return -1; /* no sender or board the protocol has */
	return 0;
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
static const enum bms_command daly_commands[] = {BMS_CMD_CHARGE_FET, BMS_CMD_DISCHARGE_FET,
						 BMS_CMD_SOC, 0};

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
	.alarms = BMS_ALARMS_COMMON | BMS_ALARM_BIT(LOW_SOC) | BMS_ALARM_BIT(CELL_IMBALANCE) |
		  BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) | BMS_ALARM_BIT(INTERNAL_FAILURE) |
		  BMS_ALARM_BIT(HIGH_CURRENT),
	.state_size = sizeof(struct daly_state),
	.steps = daly_steps,
	.nsteps = sizeof(daly_steps) / sizeof(daly_steps[0]),
	.commands = daly_commands,
	.init = daly_init,
	.build_request = daly_build_request,
	.frame_check = daly_frame_check,
	.parse = daly_parse,
};
