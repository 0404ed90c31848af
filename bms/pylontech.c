/* SPDX-License-Identifier: MIT */
/*
 * Pylontech RS485 V3.3 (US2000/US3000/US5000 and the many "Pylontech
 * compatible" packs): the '~' ASCII frame with VER 0x20, CID1 0x46
 * (docs/PROTOCOLS.md "Pylontech"; reference: protocols.md sections 5, 5c).
 *
 * Link: 9600 8N1 on the RS485 port; the packs of one link share the bus, the
 * first at ADR 2, the next at 3 and so on. The driver's address is the ADR.
 *
 * Frame (bms/pylon_ascii.h): '~' VER ADR CID1 CID2 LENGTH INFO CHKSUM CR, all
 * hex ASCII; CHKSUM = -(sum of the characters after '~') mod 65536. CID2 the
 * command in a request, the return code (0 = OK) in a reply.
 *
 * Sample (ADR 2, martiby/ess pylontech.py):
 *   request ~20024642E00202FD33\r   analog values, INFO = the ADR
 *   reply   ~20024600C06E10020F0C9A...0084E545\r  55 INFO bytes: 15 cells
 *           3.224..3.228 V, 5 sensors 20.1/17.0/17.2/16.8/18.4 degC, 0 A,
 *           48.39 V, 6.415 of 50 Ah, 132 cycles
 *
 * 0x42 INFO (bytes, BE): INFOFLAG, ADR, M, M x cell mV, K, K x temperature
 * 0.1 K (offset 2731; the first the BMS board, then the cell groups),
 * current s16 0.1 A (positive = charging), module voltage mV, remaining
 * mAh, user-defined P (2, or 4 for packs above 65 Ah), total mAh, cycles;
 * with P = 4 then remaining and total again as 24-bit mAh (the 16-bit
 * fields then read 0xFFFF).
 * 0x44 INFO: INFOFLAG, ADR, M, M cell codes, K, K sensor codes, charge
 * current, module voltage and discharge current codes (0 normal, 1 below,
 * 2 above the limit, 0xF0 other fault), then 5 status bytes (captures
 * carry 6).
 * 0x92 INFO: the ADR, charge voltage limit mV, discharge voltage limit mV,
 * charge current limit s16 0.1 A, discharge current limit s16 0.1 A
 * (negative), status (bit 7 charge enable, 6 discharge enable, 5/4 charge
 * immediately, 3 full charge request).
 * 0x93 INFO: the ADR, then the 16-character module serial number.
 * 0x51 INFO: device name (10 characters), software version (2 bytes),
 * manufacturer (20 characters).
 *
 * Probe: 0x42 (its layout identifies the family). Poll: 0x42, 0x44, 0x92,
 * then 0x93 and 0x51 as static data (first cycle, then every 64th while
 * missing).
 *
 * Sources: real captures (tests/vectors/pylontech.json: martiby/ess, the
 * Pylontech RS232 manual's example as Yamahasper/pylontech-bms-rs tests it)
 * and public decoders (Tomcat42/pylontech-python). protocols.md 5c's "10 mA"
 * current is wrong by the captures: every one decodes to 0.1 A (the
 * Yamahasper test frame's 0xFFFA is -0.6 A, martiby's decoder says "100mA
 * steps").
 *
 * Decisions:
 * - Not Seplos v2 (also VER 0x20): a Seplos 0x42 reply has the custom
 *   number 10 and ten words after it, ours P = 2 or 4 and exactly the words
 *   P stands for; a reply that does not fit exactly is refused (-EPROTO).
 *   PACE (VER 0x25) and Daren (0x22) differ in VER: such a reply at our
 *   ADR (a pack refusing our VER) is a refusal (-EPROTO), as for every '~'
 *   driver (bms_pylon_reply_check).
 * - The INFO byte after INFOFLAG (the ADR asked for; the number of packs
 *   when asked for all with 0xFF, which we never do) is not checked: the
 *   header's ADR is the address.
 * - Temperatures: the first sensor is the BMS board: mosfet_temp (the
 *   snapshot's one internal temperature); the others are cell sensors.
 * - SOC = remaining / total, rounded down, at most 100 %.
 * - Alarms from the 0x44 codes only (table in bms/pylontech_wire.h); a code
 *   has no level, so a crossed limit is an alarm (2); 0xF0 anywhere is
 *   InternalFailure. The status bytes are shown by describe but not mapped:
 *   no public source gives their bits.
 * - FET state: the 0x92 permissions (charge enable, discharge enable),
 *   which is what the FET state stands for in the limits (a pack that
 *   forbids charging gets CCL 0, "BMS"); no source gives the MOSFETs
 *   themselves. 0x92's current limits are the BMS's own limits
 *   (max_charge/max_discharge); its voltage limits are shown by describe.
 * - No writes: the protocol's control commands are not in our sources.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "bytes.h"
#include "pylon_ascii.h"
#include "pylontech_wire.h"
#include "registry.h"

#define PYL_STATIC_EVERY 64 /* cycles between 0x93/0x51 attempts while missing */

static const struct bms_pylon_family pyl_family = {
	.ver = PYL_VER,
	.cid1 = PYL_CID1,
	.cid1_alt = PYL_CID1,
	.max_frame = PYL_MAX_FRAME,
};

struct pyl_state {
	uint8_t adr;
};

static int pyl_init(void *state, uint8_t address)
{
	struct pyl_state *st = state;
	if (address < PYL_ADDR_MIN || address > PYL_ADDR_MAX)
		return -EINVAL;
	st->adr = address;
	return 0;
}

static uint8_t pyl_cmd(const struct bms_request *req)
{
	static const uint8_t poll[] = {PYL_ANALOG, PYL_ALARM, PYL_MANAGE, PYL_SERIAL, PYL_MAKER};
	return bms_pylon_step_cmd(req, PYL_ANALOG, poll, sizeof(poll));
}

static bool pyl_known(uint16_t cmd)
{
	return cmd == PYL_ANALOG || cmd == PYL_ALARM || cmd == PYL_MANAGE || cmd == PYL_SERIAL ||
	       cmd == PYL_MAKER;
}

static int pyl_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	struct pyl_state *st = state;
	uint8_t cmd = pyl_cmd(req);
	/* 0x42/0x44/0x92/0x93 name the pack in INFO (its ADR); 0x51 carries none */
	return bms_pylon_build_step(&pyl_family, st->adr, req, cmd, pyl_known(req->reg),
				    cmd != PYL_MAKER, out, cap);
}

static int pyl_frame_check(const uint8_t *p, size_t avail, size_t *ret_len)
{
	return bms_pylon_check_max(PYL_MAX_FRAME, p, avail, ret_len);
}

/* 0x42: the head the '~' families share (h.custom is P), then our tail. */
struct pyl_analog {
	struct bms_pylon_tele h; /* h.current in 0.1 A, h.volt mV, h.remain mAh */
	uint16_t cycles;
	uint32_t remain, total;
};

static int analog_read(const uint8_t *d, size_t len, struct pyl_analog *a)
{
	struct breader r = br_init(d, len);
	/* K >= 2 there: every pack seen has the board sensor and four cell groups */
	if (bms_pylon_tele_read(&r, PYL_TEMP_ZERO, &a->h) < 0 || a->h.n > BMS_MAX_TEMPS + 1)
		return -EPROTO;
	a->remain = a->h.remain;
	a->total = br_u16be(&r);
	a->cycles = br_u16be(&r);
	if (r.err)
		return -EPROTO;
	if (a->h.custom == PYL_USER_LONG) {
		if (br_left(&r) != 6)
			return -EPROTO;
		a->remain = (uint32_t)br_u8(&r) << 16;
		a->remain |= br_u16be(&r);
		a->total = (uint32_t)br_u8(&r) << 16;
		a->total |= br_u16be(&r);
	} else if (a->h.custom != PYL_USER_SHORT || br_left(&r) != 0) {
		return -EPROTO;
	}
	return r.err ? -EPROTO : 0;
}

static void analog_apply(const struct pyl_analog *a, struct bms_snapshot *s)
{
	const struct bms_pylon_tele *h = &a->h;
	s->cell_count = h->m;
	memcpy(s->cell_mv, h->cells, h->m * sizeof(h->cells[0]));
	s->mosfet_temp_dc = h->temps[0];
	s->temp_count = (uint8_t)(h->n - 1u);
	memcpy(s->temp_dc, h->temps + 1, s->temp_count * sizeof(h->temps[0]));
	s->current_ma = h->current * PYL_CUR_UNIT;
	s->voltage_mv = h->volt;
	s->capacity_remain_mah = (int32_t)a->remain;
	s->capacity_full_mah = (int32_t)a->total;
	s->cycles = a->cycles;
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_CURRENT | BMS_V_VOLTAGE |
		    BMS_V_CAP_REMAIN | BMS_V_CAP_FULL | BMS_V_CYCLES;
	if (a->total > 0) {
		uint64_t soc = (uint64_t)a->remain * 10000u / a->total;
		s->soc_cpct = (uint16_t)(soc > 10000 ? 10000 : soc);
		s->valid |= BMS_V_SOC;
	}
}

struct pyl_alarm {
	struct bms_pylon_codes h;
	uint8_t nstatus;
	const uint8_t *tail; /* 3 codes, then the status bytes */
};

static int alarm_read(const uint8_t *d, size_t len, struct pyl_alarm *a)
{
	struct breader r = br_init(d, len);
	if (bms_pylon_codes_read(&r, &a->h) < 0 || a->h.n < 1 || a->h.n > BMS_MAX_TEMPS + 1)
		return -EPROTO;
	size_t left = br_left(&r);
	if (r.err || left < 3 + PYL_STATUS_MIN || left > 3 + PYL_STATUS_MAX)
		return -EPROTO;
	a->tail = d + r.pos;
	a->nstatus = (uint8_t)(left - 3);
	return 0;
}

static void raise_code(struct bms_snapshot *s, enum pyl_code_of of, uint8_t code)
{
	if (code == PYL_CODE_OTHER) {
		s->alarm[BMS_ALARM_INTERNAL_FAILURE] = 2;
		return;
	}
	for (size_t i = 0; i < PYL_NCODES; i++)
		if (pyl_codes[i].of == of && pyl_codes[i].code == code)
			s->alarm[pyl_codes[i].alarm] = 2;
}

static void alarm_apply(const struct pyl_alarm *a, struct bms_snapshot *s)
{
	memset(s->alarm, 0, sizeof(s->alarm));
	for (unsigned i = 0; i < a->h.m; i++)
		raise_code(s, PYL_OF_CELL, a->h.cell_codes[i]);
	for (unsigned i = 0; i < a->h.n; i++)
		raise_code(s, i == 0 ? PYL_OF_TEMP_BMS : PYL_OF_TEMP, a->h.temp_codes[i]);
	raise_code(s, PYL_OF_CHARGE, a->tail[0]);
	raise_code(s, PYL_OF_VOLTAGE, a->tail[1]);
	raise_code(s, PYL_OF_DISCHARGE, a->tail[2]);
	s->valid |= BMS_V_ALARMS;
}

struct pyl_manage {
	uint8_t adr, status;
	uint16_t charge_mv, discharge_mv;
	int16_t charge_i, discharge_i; /* 0.1 A; the discharge limit negative */
};

static int manage_read(const uint8_t *d, size_t len, struct pyl_manage *m)
{
	if (len != PYL_MANAGE_INFO)
		return -EPROTO;
	struct breader r = br_init(d, len);
	m->adr = br_u8(&r);
	m->charge_mv = br_u16be(&r);
	m->discharge_mv = br_u16be(&r);
	m->charge_i = br_s16be(&r);
	m->discharge_i = br_s16be(&r);
	m->status = br_u8(&r);
	/* a limit the wrong way round is no limit we can publish */
	if (r.err || m->charge_i < 0 || m->discharge_i > 0)
		return -EPROTO;
	return 0;
}

static void manage_apply(const struct pyl_manage *m, struct bms_snapshot *s)
{
	s->max_charge_ma = m->charge_i * PYL_CUR_UNIT;
	s->max_discharge_ma = -m->discharge_i * PYL_CUR_UNIT;
	s->charge_fet = (m->status & PYL_CHARGE_ENABLE) != 0;
	s->discharge_fet = (m->status & PYL_DISCHARGE_ENABLE) != 0;
	s->valid |= BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I | BMS_V_FETS;
}

static int serial_apply(const uint8_t *d, size_t len, struct bms_snapshot *s)
{
	if (len != 1 + PYL_SERIAL_LEN)
		return -EPROTO;
	struct breader r = br_init(d + 1, PYL_SERIAL_LEN);
	br_str(&r, PYL_SERIAL_LEN, s->serial, sizeof(s->serial));
	if (s->serial[0])
		s->valid |= BMS_V_SERIAL;
	return 0;
}

static int maker_apply(const uint8_t *d, size_t len, struct bms_snapshot *s)
{
	if (len != PYL_MAKER_INFO)
		return -EPROTO;
	struct breader r = br_init(d, len);
	br_str(&r, PYL_NAME_LEN, s->model, sizeof(s->model));
	unsigned hi = br_u8(&r), lo = br_u8(&r);
	snprintf(s->sw_version, sizeof(s->sw_version), "%u.%u", hi, lo);
	s->valid |= BMS_V_SW_VERSION;
	if (s->model[0])
		s->valid |= BMS_V_MODEL;
	return 0;
}

static int pyl_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap)
{
	struct pyl_state *st = state;
	uint8_t cmd = pyl_cmd(req);
	uint8_t d[PYL_MAX_INFO];
	/* another pack's exchange is BMS_FOREIGN, another family's reply at our ADR a refusal
	 * (-EPROTO, bms_pylon_reply_check); Seplos v2 (our VER and CID1) by its layout */
	int n = bms_pylon_parse_reply(&pyl_family, st->adr, cmd != 0 && pyl_known(cmd), frame, len,
				      d, sizeof(d));
	if (n < 0)
		return n;
	switch (cmd) {
	case PYL_ANALOG: {
		struct pyl_analog a;
		if (analog_read(d, (size_t)n, &a) < 0)
			return -EPROTO;
		analog_apply(&a, snap);
		return 0;
	}
	case PYL_ALARM: {
		struct pyl_alarm a;
		if (alarm_read(d, (size_t)n, &a) < 0)
			return -EPROTO;
		alarm_apply(&a, snap);
		return 0;
	}
	case PYL_MANAGE: {
		struct pyl_manage m;
		if (manage_read(d, (size_t)n, &m) < 0)
			return -EPROTO;
		manage_apply(&m, snap);
		return 0;
	}
	case PYL_SERIAL:
		return serial_apply(d, (size_t)n, snap);
	default:
		return maker_apply(d, (size_t)n, snap);
	}
}

/* ---- describe ---- */

static void desc_analog(const struct pyl_analog *a, struct bms_frame_desc *x)
{
	bms_desc_num(x, "command_value", a->h.pack);
	bms_desc_num(x, "cell_count", a->h.m);
	bms_desc_num(x, "temp_count", a->h.n);
	bms_desc_num(x, "bms_temp_c", a->h.temps[0] / 10.0);
	bms_desc_num(x, "user_defined", a->h.custom);
}

static void desc_alarm(const struct pyl_alarm *a, struct bms_frame_desc *x)
{
	char key[BMS_DESC_KEY];
	bms_desc_num(x, "command_value", a->h.pack);
	bms_desc_num(x, "cell_count", a->h.m);
	bms_desc_num(x, "temp_count", a->h.n);
	bms_desc_num(x, "charge_current_code", a->tail[0]);
	bms_desc_num(x, "module_voltage_code", a->tail[1]);
	bms_desc_num(x, "discharge_current_code", a->tail[2]);
	for (unsigned i = 0; i < a->nstatus; i++) {
		snprintf(key, sizeof(key), "status%u", i + 1);
		bms_desc_num(x, key, a->tail[3 + i]);
	}
	bms_pylon_describe_codes(&a->h, x);
}

static void desc_manage(const struct pyl_manage *m, struct bms_frame_desc *x)
{
	bms_desc_num(x, "command_value", m->adr);
	bms_desc_num(x, "charge_volt_limit_v", m->charge_mv / 1000.0);
	bms_desc_num(x, "discharge_volt_limit_v", m->discharge_mv / 1000.0);
	bms_desc_num(x, "charge_curr_limit_a", m->charge_i / 10.0);
	bms_desc_num(x, "discharge_curr_limit_a", m->discharge_i / 10.0);
	bms_desc_num(x, "status", m->status);
	bms_desc_num(x, "charge_enable", (m->status >> 7) & 1u);
	bms_desc_num(x, "discharge_enable", (m->status >> 6) & 1u);
	bms_desc_num(x, "charge_immediately1", (m->status >> 5) & 1u);
	bms_desc_num(x, "charge_immediately2", (m->status >> 4) & 1u);
	bms_desc_num(x, "full_charge_request", (m->status >> 3) & 1u);
}

static void desc_maker(const uint8_t *d, struct bms_frame_desc *x)
{
	char v[8], m[PYL_MAKER_LEN + 1];
	struct breader r = br_init(d, PYL_NAME_LEN);
	br_str(&r, PYL_NAME_LEN, m, sizeof(m));
	bms_desc_text(x, "device_name", m, strlen(m));
	snprintf(v, sizeof(v), "%u.%u", d[PYL_NAME_LEN], d[PYL_NAME_LEN + 1]);
	bms_desc_text(x, "software_version", v, strlen(v));
	r = br_init(d + PYL_NAME_LEN + 2, PYL_MAKER_LEN);
	br_str(&r, PYL_MAKER_LEN, m, sizeof(m));
	bms_desc_text(x, "manufacturer", m, strlen(m));
}

int bms_pylontech_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	struct bms_pylon_frame f;
	uint8_t d[PYL_MAX_INFO];
	int n;
	int r = bms_pylon_describe_head(PYL_MAX_FRAME, frame, len, &f, d, sizeof(d), &n, x);
	if (r < 0)
		return -1;
	if (r == 1) {
		x->address = f.adr; /* our address is the ADR itself (the head counts from 1) */
		return 0;
	}
	/* a reply: which command it answers is told by its layout */
	struct pyl_analog a;
	struct pyl_alarm al;
	struct pyl_manage mg;
	struct bms_snapshot s;
	uint16_t cmd = 0;
	const char *name = "reply";
	if (!bms_pylon_is_family(&pyl_family, &f)) {
		name = "reply of another family";
	} else if (f.cid2 != 0) {
		name = "refusal";
	} else if (analog_read(d, (size_t)n, &a) == 0) {
		cmd = PYL_ANALOG;
		name = "0x42 analog values";
	} else if (alarm_read(d, (size_t)n, &al) == 0) {
		cmd = PYL_ALARM;
		name = "0x44 alarm info";
	} else if (manage_read(d, (size_t)n, &mg) == 0) {
		cmd = PYL_MANAGE;
		name = "0x92 charge management";
	} else if (n == 1 + PYL_SERIAL_LEN) {
		cmd = PYL_SERIAL;
		name = "0x93 serial number";
	} else if (n == PYL_MAKER_INFO) {
		cmd = PYL_MAKER;
		name = "0x51 manufacturer info";
	}
	bms_pylon_describe_reply(&f, cmd, name, x);
	x->address = f.adr;
	if (cmd == PYL_ANALOG) {
		desc_analog(&a, x);
	} else if (cmd == PYL_ALARM) {
		desc_alarm(&al, x);
	} else if (cmd == PYL_MANAGE) {
		desc_manage(&mg, x);
	} else if (cmd == PYL_SERIAL) {
		memset(&s, 0, sizeof(s));
		serial_apply(d, (size_t)n, &s);
		bms_desc_num(x, "command_value", d[0]);
		bms_desc_text(x, "serial_number", s.serial, strlen(s.serial));
	} else if (cmd == PYL_MAKER) {
		desc_maker(d, x);
	}
	return 0;
}

static const struct bms_step pyl_steps[] = {
	{0},
	{0},
	{0},
	{.flags = BMS_STEP_STATIC, .every = PYL_STATIC_EVERY, .fills = BMS_V_SERIAL},
	{.flags = BMS_STEP_STATIC,
	 .every = PYL_STATIC_EVERY,
	 .fills = BMS_V_MODEL | BMS_V_SW_VERSION},
};
static const uint32_t pyl_bauds[] = {9600, 0};
static const struct bms_link pyl_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {pyl_bauds, BMS_8N1}},
};
static const uint8_t pyl_addresses[] = {2, 0}; /* the first pack of a link */

const struct bms_driver bms_pylontech = {
	.name = "pylontech",
	.description =
		"Pylontech RS485 V3.3 (US2000/US3000/US5000 and compatibles), '~' ASCII VER 0x20",
	.spec = "PYLON low voltage protocol RS485 V3.3, 0x42/0x44/0x92/0x93/0x51; protocols.md 5, "
		"5c",
	.links = pyl_links,
	.nlinks = sizeof(pyl_links) / sizeof(pyl_links[0]),
	.addresses = pyl_addresses,
	.address_min = PYL_ADDR_MIN,
	.address_max = PYL_ADDR_MAX,
	.response_timeout_ms = 1000,
	/* RS485 with several packs: leave the line quiet between exchanges */
	.inter_frame_gap_ms = 100,
	.poll_interval_ms = 2000,
	.max_frame = PYL_MAX_FRAME,
	.flags = BMS_F_ADDRESSED,
	.alarms = BMS_ALARM_BIT(LOW_CELL_VOLTAGE) | BMS_ALARM_BIT(HIGH_CELL_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_INTERNAL_TEMPERATURE) | BMS_ALARM_BIT(LOW_TEMPERATURE) |
		  BMS_ALARM_BIT(HIGH_TEMPERATURE) | BMS_ALARM_BIT(HIGH_CHARGE_CURRENT) |
		  BMS_ALARM_BIT(LOW_VOLTAGE) | BMS_ALARM_BIT(HIGH_VOLTAGE) |
		  BMS_ALARM_BIT(HIGH_DISCHARGE_CURRENT) | BMS_ALARM_BIT(INTERNAL_FAILURE),
	.state_size = sizeof(struct pyl_state),
	.steps = pyl_steps,
	.nsteps = sizeof(pyl_steps) / sizeof(pyl_steps[0]),
	.init = pyl_init,
	.build_request = pyl_build_request,
	.frame_check = pyl_frame_check,
	.parse = pyl_parse,
};
