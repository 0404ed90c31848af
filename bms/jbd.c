/* SPDX-License-Identifier: MIT */
/*
 * JBD / Xiaoxiang / Overkill Solar / LLT "smart BMS", 0xDD protocol
 * (docs/PROTOCOLS.md "JBD"; reference: protocols.md section 3).
 *
 * Link: 9600 8N1, UART / RS485 / BLE module, no address: one BMS per port.
 *
 * Frame layout (all multi-byte fields big-endian):
 *   request  DD A5 reg 00 chk_hi chk_lo 77          (read register reg)
 *   reply    DD reg status n data[n] chk_hi chk_lo 77
 *            status 0x00 = ok, 0x80 = error; whole frame = n + 7 bytes.
 * Checksum: (0x10000 - sum of bytes from offset 2 up to the end of the data)
 * & 0xFFFF, big-endian. For a request that is reg + 00; for a reply
 * status + n + data.
 *
 * Sample (JBD-SP04S034, 4S):
 *   request  DD A5 03 00 FF FD 77
 *   reply    DD 03 00 1D 06 18 00 00 01 F2 01 F4 00 00 2C 7C 00 00 00 00
 *            00 00 80 64 03 04 03 0B 8B 0B 8A 0B 84 FA 8D 77
 *            -> 15.60 V, 0 A, 4.98 of 5.00 Ah, 0 cycles, 2022-03-28, sw 8.0,
 *               100 %, both FETs on, 4 cells, 3 NTCs 22.4 / 22.3 / 21.7 degC
 *
 * Poll cycle: 0x03 basic info, 0x04 cell voltages, then two static steps
 * (BMS_STEP_STATIC) the core asks on the first cycle and carries into every
 * later cycle: 0x05 (model string), again every 64th cycle while missing,
 * and 0xAA (protection event counters), again every 100th cycle while
 * missing and every 600th once held (the counters move only when a
 * protection trips: 10 minutes at the default 1 s poll is fresh enough).
 * Why not every cycle: some clones stay silent on 0x05 or 0xAA, which would
 * cost a timeout per cycle; a lost cycle in 64 or 100 is the price of
 * recovering from a noisy first attempt, and the two periods differ so one
 * silent register does not keep the other from being asked. The probe is
 * 0x03 alone: it is what identifies a JBD and gives the plausibility data.
 *
 * Setup (BMS_REQ_SETUP, once after detection): the configured over-current
 * limits sit in EEPROM, readable only in factory mode. Steps: write 0x00
 * 56 78 (enter), read 0x28 (charge over-current), read 0x29 (discharge
 * over-current), write 0x01 00 00 (leave, discarding: we change nothing, so
 * 28 28 = save is never sent). BMS_STEP_CLEANUP is the same leave request,
 * so a failed step never leaves the BMS in factory mode. Both words are s16
 * in 10 mA, the discharge one stored negative by common firmware: the
 * magnitude is the limit. Only a magnitude of 1..320 A is used: 0 is "not
 * configured", below 1 A is no over-current setting (a misread, or 0xFFFF =
 * -10 mA from an unset EEPROM), above 320 A are the s16 sentinels 0x7FFF /
 * 0x8000, not a setting. Such a word is read and not set.
 *
 * Writes: MOSFET control, register 0xE1 (protocols.md section 3, "Writes /
 * control"): DD 5A E1 02 00 0X chk chk 77, bit0 set = charge FET off, bit1
 * set = discharge FET off, 00 00 = both on; no factory mode is needed for
 * it. The acknowledgement is DD E1 00 00 00 00 77; status 0x80 is a refusal
 * (-EPERM). Commands: CHARGE_FET and DISCHARGE_FET, value 1 on / 0 off.
 *
 * Decisions where sources conflict or are silent:
 * - Temperatures: with more than one NTC the first one is the MOSFET/board
 *   sensor (dbus-serialbattery's mapping; JBD boards with 3 NTCs put the
 *   board sensor first), the others are battery sensors; a single NTC is a
 *   battery sensor. So N > 1 -> mosfet_temp = NTC 0, temps = NTC 1..N-1.
 * - Balance bits: bytes 12-13 are cells 1-16 with bit 0 = cell 1, bytes 14-15
 *   cells 17-32 (the JBD document and dbus-serialbattery; ESPHome's u32 read
 *   the other way round is not followed).
 * - Capacities: offset 6 ("nominal") is the design capacity; the full-charge
 *   capacity of newer firmware's tail is capacity_full when present and
 *   non-zero, otherwise capacity_full = nominal.
 * - Cell count: taken from the length of the 0x04 list, which is what the
 *   voltages are; the count in 0x03 is the configured string count, reported
 *   as cells_reported (a bench unit reports 16 and sends 16 values, one of
 *   them 0), with temps_reported = the NTC count of 0x03 (every NTC, the
 *   MOSFET sensor included). A string count outside 1..32 is no count.
 * - Protection bits are active protections: each maps to alarm level 2.
 *   Short circuit -> HighCurrent; front-end IC error -> InternalFailure.
 *   Software lock (bit 12) is a user action, not an alarm; the FET bits show
 *   its effect. Bit 13 (charge timeout, some firmware) is not mapped.
 * - There is no serial number outside factory mode (EEPROM 0x16), so the
 *   production date "YYYY-MM-DD" is the serial; the 0x05 string is the model.
 * - Framing: a reply's checksum leaves its register byte unprotected, so
 *   frame_check only accepts the replies 0x03/0x04/0x05/0xAA/0x28/0x29 and
 *   the 0x00/0x01/0xE1 write acknowledgements, and checks the shape of their
 *   data (see jbd_shape_ok). Requests are frames too (their checksum covers
 *   the register): parse calls them foreign, describe shows them.
 * - Foreign frames (BMS_FOREIGN): any request, and a reply to a register
 *   other than the one asked (another master's exchange). A refusal (status
 *   0x80) of a read is -EREMOTEIO, of a write -EPERM.
 * - 0xAA: 11 counters in enum bms_prot order; a 12th word some firmware
 *   sends has no name and is only described. 0x05 all NULs: no model.
 * - The newer-firmware tail (humidity, alarm bits, full-charge capacity,
 *   remaining capacity, balance current): only the full-charge capacity has
 *   a snapshot field; the alarm bits' meaning is not documented, so they are
 *   not mapped rather than guessed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "registry.h"
#include "bytes.h"
#include "jbd_wire.h"

struct jbd_state {
	/*
	 * The MOSFET lock bits we last had acknowledged (bit0 charge off, bit1
	 * discharge off). Register 0xE1 sets both at once and cannot be read
	 * back, so a write of one FET repeats the other's last commanded state;
	 * the FET bits of 0x03 are no substitute (a FET a protection opened
	 * would be locked off for good). 0 after init: both allowed.
	 */
	uint8_t fet_lock;
};

#define JBD_MODEL_EVERY 64 /* cycles between 0x05 attempts while it is missing */
/* 0xAA: cycles between attempts while missing, and between re-reads once held */
#define JBD_ERRORS_EVERY 100
#define JBD_ERRORS_REFRESH 600
/* a configured over-current limit outside 1..320 A (10 mA units) is not believed */
#define JBD_OC_MIN 100
#define JBD_OC_MAX 32000

/* The SETUP sequence: factory mode, the two over-current limits, leave. */
enum {
	JBD_SETUP_ENTER,
	JBD_SETUP_CHG_OC,
	JBD_SETUP_DSG_OC,
	JBD_SETUP_LEAVE,
};

static int jbd_init(void *state, uint8_t address)
{
	struct jbd_state *st = state;
	(void)address;
	memset(st, 0, sizeof(*st));
	return 0;
}

static int put_request(uint8_t rw, uint8_t reg, const uint8_t *data, uint8_t n, uint8_t *out,
		       size_t cap)
{
	if (cap < (size_t)JBD_OVERHEAD + n)
		return -ENOSPC;
	out[0] = JBD_START;
	out[1] = rw;
	out[2] = reg;
	out[3] = n;
	if (n)
		memcpy(out + 4, data, n);
	put_u16be(out + 4 + n, jbd_sum(out + 2, (size_t)n + 2));
	out[6 + n] = JBD_END;
	return JBD_OVERHEAD + n;
}

/* Registers a read request may ask (READ): what the BMS answers with data. */
static bool jbd_readable(uint16_t reg)
{
	return reg == JBD_REG_INFO || reg == JBD_REG_CELLS || reg == JBD_REG_MODEL ||
	       reg == JBD_REG_ERRORS || reg == JBD_REG_CHG_OC || reg == JBD_REG_DSG_OC;
}

/* Registers whose write the BMS acknowledges without data. */
static bool jbd_acked(uint16_t reg)
{
	return reg == JBD_REG_FACTORY || reg == JBD_REG_FACTORY_EXIT || reg == JBD_REG_MOSFET;
}

/* One request: read (n 0) or write of reg with data[0..n). */
struct jbd_ask {
	uint8_t rw, reg, n;
	uint8_t data[2];
};

/* The 0xE1 lock bits a SET asks for, or a negative errno. */
static int jbd_lock_for(const struct jbd_state *st, const struct bms_request *req)
{
	uint8_t bit;
	if (req->command == BMS_CMD_CHARGE_FET)
		bit = 1;
	else if (req->command == BMS_CMD_DISCHARGE_FET)
		bit = 2;
	else
		return -EOPNOTSUPP;
	if (req->value != 0 && req->value != 1)
		return -EINVAL;
	return req->value ? st->fet_lock & ~bit : st->fet_lock | bit;
}

static int ask_read(uint8_t reg, struct jbd_ask *a)
{
	*a = (struct jbd_ask){.rw = JBD_READ, .reg = reg};
	return 1;
}

static int ask_write(uint8_t reg, uint8_t d0, uint8_t d1, struct jbd_ask *a)
{
	*a = (struct jbd_ask){.rw = JBD_WRITE, .reg = reg, .n = 2, .data = {d0, d1}};
	return 1;
}

/* The request a descriptor stands for: 1 and *a, 0 = no such step, or a negative errno. */
static int jbd_asked(const struct jbd_state *st, const struct bms_request *req, struct jbd_ask *a)
{
	static const uint8_t poll[] = {JBD_REG_INFO, JBD_REG_CELLS, JBD_REG_MODEL, JBD_REG_ERRORS};
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? ask_read(JBD_REG_INFO, a) : 0;
	case BMS_REQ_POLL:
		return req->step < sizeof(poll) ? ask_read(poll[req->step], a) : 0;
	case BMS_REQ_READ:
		if (req->step > 0)
			return 0;
		/*
		 * The write registers whose acknowledgements a capture holds get a
		 * plain read too, never their write: harmless if sent (the BMS
		 * refuses or stays silent), and the decode engine needs a request
		 * to place the ack.
		 */
		if (jbd_readable(req->reg) || jbd_acked(req->reg))
			return ask_read((uint8_t)req->reg, a);
		return -EOPNOTSUPP;
	case BMS_REQ_SET: {
		if (req->step > 0)
			return 0;
		int lock = jbd_lock_for(st, req);
		return lock < 0 ? lock : ask_write(JBD_REG_MOSFET, 0, (uint8_t)lock, a);
	}
	case BMS_REQ_SETUP:
		/* leaving always discards (00 00): we never change the EEPROM */
		if (req->step == BMS_STEP_CLEANUP || req->step == JBD_SETUP_LEAVE)
			return ask_write(JBD_REG_FACTORY_EXIT, 0, 0, a);
		if (req->step == JBD_SETUP_ENTER)
			return ask_write(JBD_REG_FACTORY, JBD_FACTORY_KEY_HI, JBD_FACTORY_KEY_LO,
					 a);
		if (req->step == JBD_SETUP_CHG_OC)
			return ask_read(JBD_REG_CHG_OC, a);
		if (req->step == JBD_SETUP_DSG_OC)
			return ask_read(JBD_REG_DSG_OC, a);
		return 0;
	}
	return 0;
}

static int jbd_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct jbd_ask a;
	int r = jbd_asked(state, req, &a);
	if (r <= 0)
		return r;
	return put_request(a.rw, a.reg, a.data, a.n, out, cap);
}

static bool is_request(const uint8_t *p)
{
	return p[1] == JBD_READ || p[1] == JBD_WRITE;
}

/*
 * The checksum does not cover a reply's register byte, so a corrupted
 * register would pass it. Accept only the replies we know, each with the
 * shape its data must have: then one flipped register bit is caught too
 * (0x04 <-> 0x05 as an odd cell list or a binary "model string", 0x01 <->
 * 0x05 as an empty model, 0x00 <-> 0x04 as an empty cell list). The pairs
 * no shape tells apart (0x00/0x01 acks, 0x28/0x29 values) differ in what
 * was asked: parse takes only the register it asked for. A request's
 * checksum covers its register: a read carries no data, a write some.
 */
static bool jbd_shape_ok(const uint8_t *p)
{
	uint8_t reg = p[1], n = p[3];
	const uint8_t *d = p + 4;
	if (p[1] == JBD_READ)
		return n == 0;
	if (p[1] == JBD_WRITE)
		return n > 0;
	if (p[2] == JBD_STATUS_ERR)
		return jbd_readable(reg) || jbd_acked(reg);
	switch (reg) {
	case JBD_REG_INFO:
		return n >= 23 && 23u + 2u * d[22] <= n;
	case JBD_REG_CELLS:
	case JBD_REG_ERRORS:
		return n >= 2 && n % 2 == 0;
	case JBD_REG_MOSFET:
	case JBD_REG_FACTORY:
	case JBD_REG_FACTORY_EXIT:
		return n == 0; /* a write acknowledgement carries no data */
	case JBD_REG_CHG_OC:
	case JBD_REG_DSG_OC:
		return n == 2; /* one EEPROM word */
	case JBD_REG_MODEL:
		if (n == 0)
			return false;
		for (unsigned i = 0; i < n; i++)
			if (d[i] != 0 && (d[i] < 0x20 || d[i] > 0x7E))
				return false;
		return true;
	default:
		return false;
	}
}

/* Is buf[0..len) exactly one frame (request or reply) with a good checksum? */
static bool jbd_frame_ok(const uint8_t *p, size_t len)
{
	if (len < JBD_OVERHEAD || p[0] != JBD_START || len != (size_t)p[3] + JBD_OVERHEAD)
		return false;
	if (p[len - 1] != JBD_END)
		return false;
	uint16_t want = (uint16_t)((p[len - 3] << 8) | p[len - 2]);
	return jbd_sum(p + 2, len - 5) == want && jbd_shape_ok(p);
}

/*
 * A candidate start: DD, then a request marker (a read's length is 0) or a
 * reply's status of 00 or 80. Checking early keeps a stray DD inside the
 * data from holding up the search with a bogus length.
 */
static bool jbd_head_ok(const uint8_t *p, size_t avail)
{
	if (p[0] != JBD_START)
		return false;
	if (avail < 2)
		return true;
	if (p[1] == JBD_READ)
		return avail < 4 || p[3] == 0;
	if (p[1] == JBD_WRITE)
		return true;
	if (avail >= 3 && p[2] != JBD_STATUS_OK && p[2] != JBD_STATUS_ERR)
		return false;
	return true;
}

/* frame_check: a request or reply of the shape jbd_head_ok() accepts, whole and checksummed. */
static int jbd_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	if (!jbd_head_ok(p, avail))
		return -1;
	if (avail < 4 || avail < (size_t)p[3] + JBD_OVERHEAD)
		return 0;
	size_t flen = (size_t)p[3] + JBD_OVERHEAD;
	if (!jbd_frame_ok(p, flen))
		return -1;
	*ret_len = flen;
	return 1;
}

/* Protection bit -> alarm (level 2); bits 12 (software lock) and 13 raise nothing. */
static const uint8_t jbd_prot_alarm[] = {
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

static void set_alarms(uint16_t prot, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (unsigned b = 0; b < sizeof(jbd_prot_alarm); b++)
		if (prot & (1u << b))
			s->alarm[jbd_prot_alarm[b]] = 2;
	s->valid |= BMS_V_ALARMS;
}

/* The production date word as "YYYY-MM-DD" (year = 2000 + v >> 9). */
static void date_string(uint16_t date, char *out, size_t cap)
{
	snprintf(out, cap, "%04u-%02u-%02u", 2000u + (date >> 9), (date >> 5) & 0x0Fu,
		 date & 0x1Fu);
}

static int parse_info(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	struct breader r = br_init(d, n);
	if (n < 23)
		return -EPROTO;
	uint8_t ntc = d[22];
	if ((size_t)23 + 2u * ntc > n || ntc > BMS_MAX_TEMPS + 1)
		return -EPROTO;

	uint16_t volt = br_u16be(&r);
	int16_t cur = br_s16be(&r);
	uint16_t remain = br_u16be(&r);
	uint16_t nominal = br_u16be(&r);
	uint16_t cycles = br_u16be(&r);
	uint16_t date = br_u16be(&r);
	uint16_t bal_lo = br_u16be(&r);
	uint16_t bal_hi = br_u16be(&r);
	uint16_t prot = br_u16be(&r);
	uint8_t sw = br_u8(&r);
	uint8_t soc = br_u8(&r);
	uint8_t fet = br_u8(&r);
	uint8_t cells = br_u8(&r);
	br_skip(&r, 1); /* NTC count, read above */
	int16_t t[BMS_MAX_TEMPS + 1];
	for (unsigned i = 0; i < ntc; i++)
		t[i] = (int16_t)(br_u16be(&r) - JBD_KELVIN_DC);
	/* newer firmware: humidity u8, alarm bits u16, full-charge capacity u16 ... */
	uint16_t full = 0;
	if (br_left(&r) >= 5) {
		br_skip(&r, 3);
		full = br_u16be(&r);
	}
	if (r.err)
		return -EPROTO;

	s->voltage_mv = (int32_t)volt * 10;
	s->current_ma = (int32_t)cur * 10;
	s->capacity_remain_mah = (int32_t)remain * 10;
	s->capacity_design_mah = (int32_t)nominal * 10;
	s->capacity_full_mah = (int32_t)(full ? full : nominal) * 10;
	s->cycles = cycles;
	s->soc_cpct = (uint16_t)(soc * 100u);
	s->balancing = (uint32_t)bal_lo | ((uint32_t)bal_hi << 16);
	s->charge_fet = fet & 1;
	s->discharge_fet = (fet >> 1) & 1;
	s->valid |= BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_CAP_REMAIN | BMS_V_CAP_DESIGN |
		    BMS_V_CAP_FULL | BMS_V_CYCLES | BMS_V_SOC | BMS_V_BALANCING | BMS_V_FETS;
	set_alarms(prot, s);

	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u", (unsigned)(sw >> 4), sw & 0x0Fu);
	s->valid |= BMS_V_SW_VERSION;
	if (date != 0) {
		date_string(date, s->serial, sizeof(s->serial));
		s->valid |= BMS_V_SERIAL;
	}
	/* the stated counts: a string count the balance words cannot carry is no count */
	if (cells >= 1 && cells <= BMS_MAX_CELLS) {
		s->cells_reported = cells;
		s->temps_reported = ntc;
		s->valid |= BMS_V_COUNTS;
	}

	if (ntc == 1) {
		s->temp_count = 1;
		s->temp_dc[0] = t[0];
	} else if (ntc > 1) {
		s->mosfet_temp_dc = t[0];
		s->valid |= BMS_V_MOSFET_TEMP;
		s->temp_count = (uint8_t)(ntc - 1);
		memcpy(s->temp_dc, t + 1, (size_t)(ntc - 1) * sizeof(t[0]));
	} else {
		s->temp_count = 0;
	}
	/* zero sensors is a fact too: the bench unit reports none */
	s->valid |= BMS_V_TEMPS;
	return 0;
}

static int parse_cells(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n == 0 || n % 2 != 0 || n / 2 > BMS_MAX_CELLS)
		return -EPROTO;
	struct breader r = br_init(d, n);
	s->cell_count = (uint8_t)(n / 2);
	for (unsigned i = 0; i < s->cell_count; i++)
		s->cell_mv[i] = br_u16be(&r);
	s->valid |= BMS_V_CELLS;
	return 0;
}

static int parse_errors(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	/* 11 counters; firmware sends a 12th word nobody names */
	if (n < 2u * BMS_PROT_COUNT)
		return -EPROTO;
	for (unsigned i = 0; i < BMS_PROT_COUNT; i++)
		s->prot_events[i] = (uint16_t)((d[2 * i] << 8) | d[2 * i + 1]);
	s->valid |= BMS_V_PROT_EVENTS;
	return 0;
}

/*
 * An EEPROM over-current word (s16, 10 mA; discharge is stored negative by
 * common firmware): its magnitude in mA, or 0 when it is no usable limit
 * (0 = not configured, outside JBD_OC_MIN..JBD_OC_MAX = not believed).
 */
static int32_t oc_limit_ma(const uint8_t *d)
{
	int32_t raw = (int16_t)((d[0] << 8) | d[1]);
	int32_t mag = raw < 0 ? -raw : raw;
	return mag >= JBD_OC_MIN && mag <= JBD_OC_MAX ? mag * 10 : 0;
}

static int parse_oc(uint8_t reg, const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	if (n != 2)
		return -EPROTO;
	int32_t ma = oc_limit_ma(d);
	if (ma == 0)
		return 0; /* read, but never used as a limit */
	if (reg == JBD_REG_CHG_OC) {
		s->max_charge_ma = ma;
		s->valid |= BMS_V_MAX_CHARGE_I;
	} else {
		s->max_discharge_ma = ma;
		s->valid |= BMS_V_MAX_DISCHARGE_I;
	}
	return 0;
}

/* The register whose reply answers req; -1 when req asks nothing. */
static int jbd_reply_reg(const struct jbd_state *st, const struct bms_request *req)
{
	/* a READ of a write's register: its acknowledgement is still understood */
	if (req->kind == BMS_REQ_READ)
		return req->step == 0 && req->reg <= 0xFF ? req->reg : -1;
	struct jbd_ask a;
	return jbd_asked(st, req, &a) > 0 ? a.reg : -1;
}

static int jbd_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap)
{
	struct jbd_state *st = state;
	if (!jbd_frame_ok(frame, len))
		return -EBADMSG;
	/* a request on the line: another master's, or our own echoed by the adapter */
	if (is_request(frame))
		return BMS_FOREIGN;
	int want = jbd_reply_reg(st, req);
	if (want < 0)
		return -EPROTO;
	if (frame[1] != want)
		return BMS_FOREIGN; /* the answer to a request someone else made */
	if (req->kind == BMS_REQ_SET) {
		int lock = jbd_lock_for(st, req);
		if (lock < 0)
			return -EPROTO;
		if (frame[2] != JBD_STATUS_OK)
			return -EPERM; /* the BMS refused the write */
		st->fet_lock = (uint8_t)lock;
		return 0;
	}
	if (frame[2] != JBD_STATUS_OK)
		return -EREMOTEIO; /* the BMS refused the request */
	const uint8_t *d = frame + 4;
	size_t n = frame[3];

	switch (frame[1]) {
	case JBD_REG_INFO:
		return parse_info(d, n, snap);
	case JBD_REG_CELLS:
		return parse_cells(d, n, snap);
	case JBD_REG_MODEL: {
		/* all NULs: the BMS has no model to tell, which is an answer too */
		char model[BMS_STR_LEN];
		struct breader r = br_init(d, n);
		br_str(&r, n, model, sizeof(model));
		if (model[0] != '\0') {
			memcpy(snap->model, model, sizeof(model));
			snap->valid |= BMS_V_MODEL;
		}
		return 0;
	}
	case JBD_REG_ERRORS:
		return parse_errors(d, n, snap);
	case JBD_REG_CHG_OC:
	case JBD_REG_DSG_OC:
		return parse_oc(frame[1], d, n, snap);
	case JBD_REG_FACTORY:
	case JBD_REG_FACTORY_EXIT:
	case JBD_REG_MOSFET:
		return 0; /* an acknowledgement: nothing to fill */
	default:
		return -EPROTO;
	}
}

/* ---- describe: what a frame is, told without the request ---- */

static const char *reg_name(uint8_t reg)
{
	switch (reg) {
	case JBD_REG_FACTORY:
		return "enter factory mode";
	case JBD_REG_FACTORY_EXIT:
		return "leave factory mode";
	case JBD_REG_INFO:
		return "basic info";
	case JBD_REG_CELLS:
		return "cell voltages";
	case JBD_REG_MODEL:
		return "hardware/model string";
	case 0x0A:
		return "soc reset";
	case 0x10:
		return "design capacity";
	case 0x11:
		return "cycle capacity";
	case 0x15:
		return "manufacture date";
	case 0x16:
		return "serial number";
	case 0x17:
		return "cycle count";
	case JBD_REG_CHG_OC:
		return "charge over-current";
	case JBD_REG_DSG_OC:
		return "discharge over-current";
	case 0x2D:
		return "function configuration";
	case 0xA0:
		return "manufacturer name";
	case 0xA1:
		return "model";
	case 0xA2:
		return "barcode";
	case JBD_REG_ERRORS:
		return "error counters";
	case 0xE0:
		return "remaining capacity";
	case JBD_REG_MOSFET:
		return "mosfet control";
	case 0xE2:
		return "balancer control";
	default:
		return reg >= 0x18 && reg <= 0x3F ? "protection parameter" : "register";
	}
}

static void describe_request(const uint8_t *p, struct bms_frame_desc *d)
{
	bool rd = p[1] == JBD_READ;
	uint8_t reg = p[2], n = p[3];
	char name[40];
	snprintf(name, sizeof(name), "%s %s", rd ? "read" : "write", reg_name(reg));
	bms_desc_init(d, BMS_DIR_REQUEST, reg, -1, name);
	const char *op = rd ? "read (0xA5)" : "write (0x5A)";
	bms_desc_text(d, "op", op, strlen(op));
	bms_desc_num(d, "register", reg);
	bms_desc_text(d, "register_name", reg_name(reg), strlen(reg_name(reg)));
	bms_desc_num(d, "data_length", n);
	if (rd)
		return;
	char hex[BMS_DESC_TEXT];
	size_t o = 0;
	for (unsigned i = 0; i < n && o + 4 < sizeof(hex); i++)
		o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%s%02X", i ? " " : "", p[4 + i]);
	bms_desc_text(d, "data", hex, o);
	uint16_t w = 0;
	if (n == 2)
		w = (uint16_t)((p[4] << 8) | p[5]);
	if (reg == JBD_REG_MOSFET && n == 2) {
		bms_desc_num(d, "charge_fet_off", w & 1);
		bms_desc_num(d, "discharge_fet_off", (w >> 1) & 1);
	} else if (reg == JBD_REG_FACTORY_EXIT && n == 2) {
		bms_desc_num(d, "save_to_eeprom", p[4] == JBD_SAVE && p[5] == JBD_SAVE);
	} else if ((reg == JBD_REG_CHG_OC || reg == JBD_REG_DSG_OC) && n == 2) {
		bms_desc_num(d, "value_a", (int16_t)w / 100.0);
	}
}

static void describe_info(const uint8_t *x, size_t n, struct bms_frame_desc *d)
{
	uint8_t ntc = x[22];
	uint16_t date = (uint16_t)((x[10] << 8) | x[11]);
	if (date != 0) {
		char s[16];
		date_string(date, s, sizeof(s));
		bms_desc_text(d, "production_date", s, strlen(s));
	}
	bms_desc_num(d, "capacity_nominal_ah", ((x[6] << 8) | x[7]) / 100.0);
	bms_desc_num(d, "balance_bits_low", (x[12] << 8) | x[13]);
	bms_desc_num(d, "balance_bits_high", (x[14] << 8) | x[15]);
	bms_desc_num(d, "protection_bits", (x[16] << 8) | x[17]);
	bms_desc_num(d, "fet_bits", x[20]);
	bms_desc_num(d, "cell_count", x[21]);
	bms_desc_num(d, "ntc_count", ntc);
	for (unsigned i = 0; i < ntc; i++) {
		char key[BMS_DESC_KEY];
		snprintf(key, sizeof(key), "ntc%u_c", i + 1);
		bms_desc_num(d, key,
			     (((x[23 + 2 * i] << 8) | x[24 + 2 * i]) - JBD_KELVIN_DC) / 10.0);
	}
	/* the newer firmware's tail, as far as the frame carries it */
	const uint8_t *t = x + 23 + 2 * ntc;
	size_t left = n - 23 - 2u * ntc;
	if (left >= 1)
		bms_desc_num(d, "humidity_pct", t[0]);
	if (left >= 3)
		bms_desc_num(d, "alarm_bits", (t[1] << 8) | t[2]);
	if (left >= 5)
		bms_desc_num(d, "capacity_full_ah", ((t[3] << 8) | t[4]) / 100.0);
	if (left >= 7)
		bms_desc_num(d, "capacity_remaining2_ah", ((t[5] << 8) | t[6]) / 100.0);
	if (left >= 9)
		bms_desc_num(d, "balance_current_ma", (int16_t)((t[7] << 8) | t[8]));
}

static void describe_cells(const uint8_t *x, size_t n, struct bms_frame_desc *d)
{
	unsigned max = 0, min = 0;
	for (unsigned i = 1; i < n / 2; i++) {
		unsigned v = (x[2 * i] << 8) | x[2 * i + 1];
		if (v > (unsigned)((x[2 * max] << 8) | x[2 * max + 1]))
			max = i;
		if (v < (unsigned)((x[2 * min] << 8) | x[2 * min + 1]))
			min = i;
	}
	unsigned vmax = (x[2 * max] << 8) | x[2 * max + 1];
	unsigned vmin = (x[2 * min] << 8) | x[2 * min + 1];
	bms_desc_num(d, "max_cell_no", max + 1);
	bms_desc_num(d, "max_cell_v", vmax / 1000.0);
	bms_desc_num(d, "min_cell_no", min + 1);
	bms_desc_num(d, "min_cell_v", vmin / 1000.0);
	bms_desc_num(d, "delta_v", (vmax - vmin) / 1000.0);
}

static void describe_reply(const uint8_t *p, struct bms_frame_desc *d)
{
	uint8_t reg = p[1], n = p[3];
	const uint8_t *x = p + 4;
	char name[40];
	bool ok = p[2] == JBD_STATUS_OK;
	bool ack = jbd_acked(reg);
	/* the decode line prints the register itself */
	snprintf(name, sizeof(name), "%s%s", reg_name(reg), !ok ? " refused" : ack ? " ack" : "");
	bms_desc_init(d, BMS_DIR_REPLY, reg, -1, name);
	if (!ok || ack) {
		bms_desc_num(d, "status", p[2]);
		return;
	}
	switch (reg) {
	case JBD_REG_INFO:
		describe_info(x, n, d);
		break;
	case JBD_REG_CELLS:
		describe_cells(x, n, d);
		break;
	case JBD_REG_MODEL:
		bms_desc_text(d, "hw_model", (const char *)x, n);
		break;
	case JBD_REG_ERRORS:
		for (unsigned i = 0; i < n / 2; i++) {
			char key[BMS_DESC_KEY];
			if (i < BMS_PROT_COUNT)
				snprintf(key, sizeof(key), "%s", bms_prot_name((enum bms_prot)i));
			else
				snprintf(key, sizeof(key), "counter%u", i + 1);
			bms_desc_num(d, key, (x[2 * i] << 8) | x[2 * i + 1]);
		}
		break;
	case JBD_REG_CHG_OC:
	case JBD_REG_DSG_OC: {
		/* as stored (discharge negative on common firmware); the limit is its magnitude */
		int16_t raw = (int16_t)((x[0] << 8) | x[1]);
		bms_desc_num(d,
			     reg == JBD_REG_CHG_OC ? "charge_overcurrent_a"
						   : "discharge_overcurrent_a",
			     raw / 100.0);
		break;
	}
	default:
		break;
	}
}

int bms_jbd_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *d)
{
	if (!jbd_frame_ok(frame, len))
		return -1;
	if (is_request(frame))
		describe_request(frame, d);
	else
		describe_reply(frame, d);
	return 0;
}

/*
 * Poll steps 0x03, 0x04, then two static steps: 0x05 (model string) and
 * 0xAA (protection event counters, re-read every JBD_ERRORS_REFRESH cycles).
 */
static const struct bms_step jbd_steps[] = {
	{0},
	{0},
	{.flags = BMS_STEP_STATIC, .every = JBD_MODEL_EVERY, .fills = BMS_V_MODEL},
	{.flags = BMS_STEP_STATIC,
	 .every = JBD_ERRORS_EVERY,
	 .refresh = JBD_ERRORS_REFRESH,
	 .fills = BMS_V_PROT_EVENTS},
};
static const enum bms_command jbd_commands[] = {BMS_CMD_CHARGE_FET, BMS_CMD_DISCHARGE_FET, 0};
static const uint32_t jbd_bauds[] = {9600, 0};
static const struct bms_link jbd_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {jbd_bauds, BMS_8N1}},
};

const struct bms_driver bms_jbd = {
	.name = "jbd",
	.description = "JBD / Xiaoxiang / Overkill Solar / LLT smart BMS (0xDD protocol)",
	.spec = "JBD UART protocol, registers 0x03/0x04/0x05/0xAA, EEPROM 0x28/0x29; "
		"protocols.md section 3",
	.links = jbd_links,
	.nlinks = sizeof(jbd_links) / sizeof(jbd_links[0]),
	.addresses = NULL, /* no address field: one BMS per port */
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 1000,
	.max_frame = 255 + JBD_OVERHEAD,
	.flags = 0,
	.alarms = BMS_ALARMS_COMMON | BMS_ALARM_BIT(HIGH_CURRENT) | BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = sizeof(struct jbd_state),
	.steps = jbd_steps,
	.nsteps = sizeof(jbd_steps) / sizeof(jbd_steps[0]),
	.commands = jbd_commands,
	.init = jbd_init,
	.build_request = jbd_build_request,
	.frame_check = jbd_frame_check,
	.parse = jbd_parse,
};
