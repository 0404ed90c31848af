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
 * Poll cycle: 0x03 basic info, 0x04 cell voltages, then 0x05 (model string),
 * declared static data (BMS_STEP_STATIC): the core asks it on the first
 * cycle and again every 64th while it is missing, and carries it into every
 * later cycle. Why not every cycle: the string never changes, and some clones
 * stay silent on 0x05, which would cost a timeout per cycle; a lost cycle in
 * 64 is the price of recovering from a noisy first attempt. The probe is
 * 0x03 alone: it is what identifies a JBD and gives the plausibility data.
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
 *   voltages are; the count in 0x03 is the configured string count and is
 *   not used (a bench unit reports 16 and sends 16 values, one of them 0).
 * - Protection bits are active protections: each maps to alarm level 2.
 *   Short circuit -> HighCurrent; front-end IC error -> InternalFailure.
 *   Software lock (bit 12) is a user action, not an alarm; the FET bits show
 *   its effect. Bit 13 (charge timeout, some firmware) is not mapped.
 * - There is no serial number outside factory mode (EEPROM 0x16), so the
 *   production date "YYYY-MM-DD" is the serial; the 0x05 string is the model.
 * - Framing: the checksum leaves the register byte unprotected, so
 *   frame_check only accepts the replies 0x03/0x04/0x05/0xAA and the 0xE1
 *   write acknowledgement, and checks the shape of their data (see
 *   jbd_shape_ok). Other write replies are not accepted.
 * - The newer-firmware tail (humidity, alarm bits, full-charge capacity,
 *   remaining capacity, balance current): only the full-charge capacity has
 *   a snapshot field; the alarm bits' meaning is not documented, so they are
 *   not mapped rather than guessed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
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

/* The register a read step asks for; 0 = no such step. */
static uint8_t jbd_read_reg(const struct bms_request *req)
{
	static const uint8_t poll[] = {JBD_REG_INFO, JBD_REG_CELLS, JBD_REG_MODEL};
	if (req->kind == BMS_REQ_PROBE)
		return req->step == 0 ? JBD_REG_INFO : 0;
	if (req->kind == BMS_REQ_POLL && req->step < sizeof(poll))
		return poll[req->step];
	return 0;
}

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

static int jbd_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct jbd_state *st = state;
	if (req->kind == BMS_REQ_SET) {
		if (req->step > 0)
			return 0;
		int lock = jbd_lock_for(st, req);
		if (lock < 0)
			return lock;
		uint8_t d[2] = {0, (uint8_t)lock};
		return put_request(JBD_WRITE, JBD_REG_MOSFET, d, sizeof(d), out, cap);
	}
	uint8_t reg = jbd_read_reg(req);
	if (reg == 0)
		return 0;
	return put_request(JBD_READ, reg, NULL, 0, out, cap);
}

/*
 * The checksum does not cover the register byte, so a corrupted register
 * would pass it. Accept only the replies we know, each with the shape its
 * data must have: then one flipped register bit (0x04 <-> 0x05) is caught
 * too, as an odd cell list or a binary "model string".
 */
static bool jbd_shape_ok(const uint8_t *p)
{
	uint8_t reg = p[1], n = p[3];
	const uint8_t *d = p + 4;
	if (p[2] == JBD_STATUS_ERR)
		return reg == JBD_REG_INFO || reg == JBD_REG_CELLS || reg == JBD_REG_MODEL ||
		       reg == JBD_REG_ERRORS || reg == JBD_REG_MOSFET;
	switch (reg) {
	case JBD_REG_INFO:
		return n >= 23 && 23u + 2u * d[22] <= n;
	case JBD_REG_CELLS:
	case JBD_REG_ERRORS:
		return n >= 2 && n % 2 == 0;
	case JBD_REG_MOSFET:
		return n == 0; /* a write acknowledgement carries no data */
	case JBD_REG_MODEL:
		for (unsigned i = 0; i < n; i++)
			if (d[i] != 0 && (d[i] < 0x20 || d[i] > 0x7E))
				return false;
		return true;
	default:
		return false;
	}
}

/* Is buf[0..len) exactly one reply frame with a good checksum? */
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
 * A candidate start: DD, then a register that is not a request marker and a
 * status of 00 or 80. Checking the status early keeps a stray DD inside the
 * data from holding up the search with a bogus length.
 */
static bool jbd_head_ok(const uint8_t *p, size_t avail)
{
	if (p[0] != JBD_START)
		return false;
	if (avail >= 2 && (p[1] == JBD_READ || p[1] == 0x5A))
		return false;
	if (avail >= 3 && p[2] != 0x00 && p[2] != 0x80)
		return false;
	return true;
}

/* frame_check: a reply of the shape jbd_head_ok() accepts, whole and checksummed. */
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

static void set_alarms(uint16_t prot, struct bms_snapshot *s)
{
	static const struct {
		uint8_t bit;
		uint8_t alarm;
	} map[] = {
		{0, BMS_ALARM_HIGH_CELL_VOLTAGE},
		{1, BMS_ALARM_LOW_CELL_VOLTAGE},
		{2, BMS_ALARM_HIGH_VOLTAGE},
		{3, BMS_ALARM_LOW_VOLTAGE},
		{4, BMS_ALARM_HIGH_CHARGE_TEMPERATURE},
		{5, BMS_ALARM_LOW_CHARGE_TEMPERATURE},
		{6, BMS_ALARM_HIGH_TEMPERATURE},
		{7, BMS_ALARM_LOW_TEMPERATURE},
		{8, BMS_ALARM_HIGH_CHARGE_CURRENT},
		{9, BMS_ALARM_HIGH_DISCHARGE_CURRENT},
		{10, BMS_ALARM_HIGH_CURRENT},
		{11, BMS_ALARM_INTERNAL_FAILURE},
	};
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (prot & (1u << map[i].bit))
			s->alarm[map[i].alarm] = 2;
	s->valid |= BMS_V_ALARMS;
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
	br_skip(&r, 2); /* cell count (see header), NTC count read above */
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
		snprintf(s->serial, sizeof(s->serial), "%04u-%02u-%02u", 2000u + (date >> 9),
			 (date >> 5) & 0x0Fu, date & 0x1Fu);
		s->valid |= BMS_V_SERIAL;
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

static int jbd_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap)
{
	struct jbd_state *st = state;
	if (!jbd_frame_ok(frame, len))
		return -EBADMSG;
	if (req->kind == BMS_REQ_SET) {
		int lock = jbd_lock_for(st, req);
		if (frame[1] != JBD_REG_MOSFET || lock < 0)
			return -EPROTO;
		if (frame[2] != JBD_STATUS_OK)
			return -EPERM; /* the BMS refused the write */
		st->fet_lock = (uint8_t)lock;
		return 0;
	}
	if (frame[1] != jbd_read_reg(req))
		return -EPROTO;
	if (frame[2] != JBD_STATUS_OK)
		return -EPROTO; /* the BMS refused the read */
	const uint8_t *d = frame + 4;
	size_t n = frame[3];

	switch (frame[1]) {
	case JBD_REG_INFO:
		return parse_info(d, n, snap);
	case JBD_REG_CELLS:
		return parse_cells(d, n, snap);
	case JBD_REG_MODEL: {
		struct breader r = br_init(d, n);
		br_str(&r, n, snap->model, sizeof(snap->model));
		if (snap->model[0] == '\0')
			return -EPROTO;
		snap->valid |= BMS_V_MODEL;
		return 0;
	}
	default:
		return -EPROTO;
	}
}

/* Poll steps 0x03, 0x04, 0x05: the model string is static data. */
static const struct bms_step jbd_steps[] = {
	{0},
	{0},
	{.flags = BMS_STEP_STATIC, .every = JBD_MODEL_EVERY, .fills = BMS_V_MODEL},
};
static const enum bms_command jbd_commands[] = {BMS_CMD_CHARGE_FET, BMS_CMD_DISCHARGE_FET, 0};
static const uint32_t jbd_bauds[] = {9600, 0};
static const struct bms_link jbd_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {jbd_bauds, BMS_8N1}},
};

const struct bms_driver bms_jbd = {
	.name = "jbd",
	.description = "JBD / Xiaoxiang / Overkill Solar / LLT smart BMS (0xDD protocol)",
	.spec = "JBD UART protocol, registers 0x03/0x04/0x05; protocols.md section 3",
	.links = jbd_links,
	.nlinks = sizeof(jbd_links) / sizeof(jbd_links[0]),
	.addresses = NULL, /* no address field: one BMS per port */
	.response_timeout_ms = 500,
	.inter_frame_gap_ms = 20,
	.poll_interval_ms = 1000,
	.max_frame = 255 + JBD_OVERHEAD,
	.flags = 0,
	.state_size = sizeof(struct jbd_state),
	.steps = jbd_steps,
	.nsteps = sizeof(jbd_steps) / sizeof(jbd_steps[0]),
	.commands = jbd_commands,
	.init = jbd_init,
	.build_request = jbd_build_request,
	.frame_check = jbd_frame_check,
	.parse = jbd_parse,
};
