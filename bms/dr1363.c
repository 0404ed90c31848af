/* SPDX-License-Identifier: MIT */
/* The DR-1363 protocol both Daren and KS48100 speak (see dr1363.h, bms/daren.c). */
#include "dr1363.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "pylon_ascii.h"

/* The SOI a frame at p is read with: fam's, or '~' where fam takes both. */
static const struct bms_pylon_spec *spec_of(const struct bms_dr1363_family *fam, const uint8_t *p,
					    size_t avail, struct bms_pylon_spec *buf)
{
	buf->soi = fam->soi;
	if (fam->any_soi && avail > 0 && p[0] == BMS_PYLON_SOI)
		buf->soi = BMS_PYLON_SOI;
	return buf;
}

int bms_dr1363_check(const struct bms_dr1363_family *fam, const uint8_t *p, size_t avail,
		     size_t *ret_len)
{
	struct bms_pylon_spec spec;
	size_t n = 0;
	int r = bms_pylon_check(spec_of(fam, p, avail, &spec), p, avail, &n);
	/* a header announcing more than we ever take is garbage, not a wait */
	if ((r == 1 && n > DR_MAX_FRAME) || (r == 0 && avail >= DR_MAX_FRAME))
		return -1;
	if (r == 1)
		*ret_len = n;
	return r;
}

#define DR_STATIC_EVERY 64 /* cycles between 0x51 attempts while missing */

const struct bms_step bms_dr1363_steps[BMS_DR1363_NSTEPS] = {
	{0},
	{.flags = BMS_STEP_STATIC,
	 .every = DR_STATIC_EVERY,
	 .fills = BMS_V_MODEL | BMS_V_HW_VERSION | BMS_V_SW_VERSION},
};

const uint8_t bms_dr1363_addresses[] = {1, 0};

int bms_dr1363_init(const struct bms_dr1363_family *fam, void *state, uint8_t address)
{
	struct bms_dr1363_state *st = state;
	if (address < DR_ADDR_MIN || address > DR_ADDR_MAX)
		return -EINVAL;
	st->fam = fam;
	st->adr = address;
	return 0;
}

/* The command a request descriptor stands for; 0 = the cycle has no such step. */
static uint8_t dr_cmd(const struct bms_request *req)
{
	static const uint8_t poll[] = {DR_REALTIME, DR_MAKER};
	uint8_t cmd = bms_pylon_step_cmd(req, DR_REALTIME, poll, sizeof(poll));
	return cmd == DR_REALTIME || cmd == DR_MAKER ? cmd : 0;
}

int bms_dr1363_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	const struct bms_dr1363_state *st = state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	uint8_t cmd = dr_cmd(req);
	if (req->kind == BMS_REQ_READ && req->step == 0 && cmd == 0)
		return -EOPNOTSUPP;
	if (cmd == 0)
		return 0;
	const struct bms_dr1363_family *fam = st->fam;
	/* 0x42's INFO is 0x01 whatever the ADR: the Python driver and the
	 * Tian Power capture send it so to ADR 2 as well */
	static const uint8_t one = 0x01;
	bool info = cmd == DR_REALTIME && fam->realtime_info;
	int n = bms_pylon_request(DR_VER, st->adr, fam->cid1, cmd, &one, info ? 1 : 0, out, cap);
	if (n < 0)
		return n == -ENOBUFS ? -ENOSPC : n;
	out[0] = fam->soi;
	return n;
}

int bms_dr1363_rt_read(const uint8_t *d, size_t len, struct bms_dr1363_rt *rt)
{
	struct breader r = br_init(d, len);
	rt->flag = br_u8(&r);
	rt->soc = br_u16be(&r);
	rt->volt = br_u16be(&r);
	rt->m = br_u8(&r);
	if (r.err || rt->m == 0 || rt->m > BMS_MAX_CELLS)
		return -EPROTO;
	for (unsigned i = 0; i < rt->m; i++)
		rt->cells[i] = br_u16be(&r);
	rt->env = br_s16be(&r);
	rt->pack = br_s16be(&r);
	rt->mos = br_s16be(&r);
	rt->n = br_u8(&r);
	/* the exact length: the counts are what they claim, or this is another layout */
	if (r.err || rt->n > BMS_MAX_TEMPS || len != DR_RT_FIXED + 2u * rt->m + 2u * rt->n)
		return -EPROTO;
	for (unsigned i = 0; i < rt->n; i++)
		rt->temps[i] = br_s16be(&r);
	rt->current = br_s16be(&r);
	rt->res = br_u16be(&r);
	rt->soh = br_u16be(&r);
	rt->custom = br_u8(&r);
	rt->full = br_u16be(&r);
	rt->remain = br_u16be(&r);
	rt->cycles = br_u16be(&r);
	for (unsigned i = 0; i < DR_WORDS; i++)
		rt->words[i] = br_u16be(&r);
	for (unsigned i = 0; i < DR_RT_EXT; i++)
		rt->ext[i] = br_u16be(&r);
	rt->machine = br_u8(&r);
	rt->io = br_u16be(&r);
	if (r.err || rt->soc > 10000 || rt->soh > 100)
		return -EPROTO;
	return 0;
}

static void rt_apply(const struct bms_dr1363_rt *rt, struct bms_snapshot *s)
{
	s->cell_count = rt->m;
	memcpy(s->cell_mv, rt->cells, rt->m * sizeof(rt->cells[0]));
	s->temp_count = rt->n;
	memcpy(s->temp_dc, rt->temps, rt->n * sizeof(rt->temps[0]));
	s->mosfet_temp_dc = rt->mos;
	s->current_ma = rt->current * 10;
	s->voltage_mv = rt->volt * 10;
	s->soc_cpct = rt->soc;
	s->soh_cpct = (uint16_t)(rt->soh * 100u);
	s->capacity_full_mah = rt->full * 10;
	s->capacity_remain_mah = rt->remain * 10;
	s->cycles = rt->cycles;
	memset(s->alarm, 0, sizeof(s->alarm));
	for (size_t i = 0; i < DR_NBITS; i++) {
		const struct dr_bit *b = &dr_bits[i];
		if ((rt->words[b->word] >> b->bit & 1u) && s->alarm[b->alarm] < b->level)
			s->alarm[b->alarm] = b->level;
	}
	s->charge_fet = rt->words[DR_W_FET] & 1u;
	s->discharge_fet = (rt->words[DR_W_FET] >> 1) & 1u;
	s->valid |= BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_CURRENT | BMS_V_VOLTAGE |
		    BMS_V_SOC | BMS_V_SOH | BMS_V_CAP_FULL | BMS_V_CAP_REMAIN | BMS_V_CYCLES |
		    BMS_V_ALARMS | BMS_V_FETS;
}

static bool maker_len_ok(size_t n)
{
	return n >= DR_MAKER_MIN && n <= DR_MAKER_MAX;
}

/* The software version as the vendor tool shows it: the three bytes as hex pairs. */
static void maker_version(const uint8_t *d, char *out, size_t cap)
{
	const uint8_t *v = d + 3 * DR_TEXT_LEN;
	snprintf(out, cap, "%02X.%02X.%02X", v[0], v[1], v[2]);
}

static void maker_apply(const uint8_t *d, size_t n, struct bms_snapshot *s)
{
	struct breader r = br_init(d, n);
	br_str(&r, DR_TEXT_LEN, s->hw_version, sizeof(s->hw_version));
	br_str(&r, DR_TEXT_LEN, s->model, sizeof(s->model));
	maker_version(d, s->sw_version, sizeof(s->sw_version));
	s->valid |= BMS_V_SW_VERSION;
	if (s->hw_version[0])
		s->valid |= BMS_V_HW_VERSION;
	if (s->model[0])
		s->valid |= BMS_V_MODEL;
}

/* Decode a frame of fam; 0 or -EBADMSG. */
static int decode(const struct bms_dr1363_family *fam, const uint8_t *frame, size_t len,
		  struct bms_pylon_frame *f)
{
	struct bms_pylon_spec spec;
	if (len > DR_MAX_FRAME || bms_pylon_decode(spec_of(fam, frame, len, &spec), frame, len, f))
		return -EBADMSG;
	return 0;
}

int bms_dr1363_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap)
{
	const struct bms_dr1363_state *st = state;
	const struct bms_dr1363_family *fam = st->fam;
	uint8_t cmd = dr_cmd(req);
	struct bms_pylon_frame f;
	if (decode(fam, frame, len, &f) < 0)
		return -EBADMSG;
	const struct bms_pylon_family pf = {DR_VER, fam->cid1, fam->cid1, DR_MAX_FRAME};
	/* someone else's exchange BMS_FOREIGN; another family's reply at our ADR (a VER
	 * 0x20/0x25 pack refusing our VER, the other DR-1363 CID1) a refusal, as for every
	 * '~' driver */
	int r = bms_pylon_reply_check(&pf, st->adr, cmd == DR_REALTIME || cmd == DR_MAKER, &f);
	if (r != 0)
		return r;
	uint8_t d[DR_MAX_INFO];
	int n = bms_pylon_info(&f, d, sizeof(d));
	if (n < 0)
		return -EPROTO;
	if (cmd == DR_REALTIME) {
		struct bms_dr1363_rt rt;
		if (bms_dr1363_rt_read(d, (size_t)n, &rt) < 0)
			return -EPROTO;
		rt_apply(&rt, snap);
		return 0;
	}
	if (!maker_len_ok((size_t)n))
		return -EPROTO;
	maker_apply(d, (size_t)n, snap);
	return 0;
}

/* ---- describe ---- */

static void desc_rt(const struct bms_dr1363_rt *rt, struct bms_frame_desc *x)
{
	static const char *const words[DR_WORDS] = {"voltage_status", "current_status",
						    "temperature_status", "warning_status",
						    "fet_status"};
	static const char *const ext[DR_RT_EXT] = {
		"ov_protect_lo", "uv_protect_lo", "ov_alarm_lo",   "uv_alarm_lo", "balance_lo",
		"balance_hi",    "ov_protect_hi", "uv_protect_hi", "ov_alarm_hi", "uv_alarm_hi",
	};
	bms_desc_num(x, "data_flag", rt->flag);
	bms_desc_num(x, "cell_count", rt->m);
	bms_desc_num(x, "temp_count", rt->n);
	bms_desc_num(x, "environment_temp_c", rt->env / 10.0);
	bms_desc_num(x, "pack_temp_c", rt->pack / 10.0);
	bms_desc_num(x, "internal_resistance", rt->res);
	bms_desc_num(x, "user_custom", rt->custom);
	for (unsigned i = 0; i < DR_WORDS; i++)
		bms_desc_num(x, words[i], rt->words[i]);
	for (unsigned i = 0; i < DR_RT_EXT; i++)
		bms_desc_num(x, ext[i], rt->ext[i]);
	bms_desc_num(x, "machine_status", rt->machine);
	bms_desc_num(x, "io_status", rt->io);
}

static void desc_maker(const uint8_t *d, size_t n, struct bms_frame_desc *x)
{
	static const char *const keys[3] = {"hardware_type", "product_code", "project_code"};
	char t[DR_TEXT_LEN + 1];
	struct breader r = br_init(d, n);
	for (unsigned i = 0; i < 3; i++) {
		br_str(&r, DR_TEXT_LEN, t, sizeof(t));
		bms_desc_text(x, keys[i], t, strlen(t));
	}
	char v[16];
	maker_version(d, v, sizeof(v));
	bms_desc_text(x, "software_version", v, strlen(v));
}

int bms_dr1363_describe(const struct bms_dr1363_family *fam, const uint8_t *frame, size_t len,
			struct bms_frame_desc *x)
{
	struct bms_pylon_frame f;
	if (decode(fam, frame, len, &f) < 0)
		return -1;
	uint8_t d[DR_MAX_INFO];
	int n = bms_pylon_info(&f, d, sizeof(d));
	if (n < 0)
		return -1;
	if (!bms_pylon_is_reply(f.cid2)) {
		char name[40];
		snprintf(name, sizeof(name), "request 0x%02X", f.cid2);
		bms_desc_init(x, BMS_DIR_REQUEST, f.cid2, f.adr, name);
		bms_desc_num(x, "ver", f.ver);
		bms_desc_num(x, "adr", f.adr);
		bms_desc_num(x, "cid1", f.cid1);
		bms_desc_num(x, "cid2", f.cid2);
		if (n >= 1)
			bms_desc_num(x, "command_info", d[0]);
		return 0;
	}
	/* a reply: which command it answers is told by its layout */
	struct bms_dr1363_rt rt;
	uint16_t cmd = 0;
	const char *name = "reply";
	if (f.ver != DR_VER || f.cid1 != fam->cid1) {
		name = "reply of another family";
	} else if (f.cid2 != 0) {
		name = "refusal";
	} else if (bms_dr1363_rt_read(d, (size_t)n, &rt) == 0) {
		cmd = DR_REALTIME;
		name = "0x42 realtime data";
	} else if (maker_len_ok((size_t)n)) {
		cmd = DR_MAKER;
		name = "0x51 manufacturer info";
	} else if (n == 1) {
		cmd = DR_PROTOCOL;
		name = "0x4F protocol version";
	}
	bms_desc_init(x, BMS_DIR_REPLY, cmd, f.adr, name);
	bms_desc_num(x, "ver", f.ver);
	bms_desc_num(x, "adr", f.adr);
	bms_desc_num(x, "cid1", f.cid1);
	bms_desc_num(x, "cid2_return_code", f.cid2);
	bms_desc_num(x, "info_length", (double)f.info_chars);
	if (cmd == DR_REALTIME)
		desc_rt(&rt, x);
	else if (cmd == DR_MAKER)
		desc_maker(d, (size_t)n, x);
	else if (cmd == DR_PROTOCOL)
		bms_desc_num(x, "protocol_version", d[0]);
	return 0;
}
