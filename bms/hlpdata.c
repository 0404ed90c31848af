/* SPDX-License-Identifier: MIT */
/*
 * HLPdata BMS4S, a 4-cell BMS with a text command interface
 * (docs/PROTOCOLS.md "HLPdata BMS4S"; reference: protocols.md section 14,
 * dbus-serialbattery hlpdatabms4s.py). No capture of its output is public:
 * every fact here comes from that one driver and the fact sheet; the vectors
 * (tests/vectors/hlpdata.json) are built from the documented layout.
 *
 * Link: UART 9600 8N1, one unit per port, no address.
 *
 * Requests are command lines ending in LF: `pv` version, `ps` settings, `m1`
 * measurements. A bare LF first wakes the unit (dbus-serialbattery sends one
 * before `pv`); we send it in front of `pv`, in the same write.
 * Replies are text lines ending in LF (CR LF accepted). The unit echoes the
 * command line (dbus-serialbattery looks for "m1" in the m1 reply and takes
 * the first number after it). The lines we read:
 *   BMS4S ...                      the version (`pv`)
 *   BatterySize= 280               Ah (`ps`; among other settings lines)
 *   VoltHigh= 3,550 / VoltLow= 3,000   V per cell, decimal comma (`ps`)
 *   3.312,3.313,3.311,3.314,-12.345,85,1,1,13.25,85,0,0,1,b1 21,b2 22
 *       cells 1..4 V, current A (+ = charging), SOC %, charge enabled,
 *       load enabled, vbat2, socnow, adj, beep code, led, then "name value"
 *       temperature tokens (`m1`); names starting with b are battery sensors.
 * Sample: request "m1\n" -> "m1\r\n" (echo) then the line above.
 *
 * What cannot be detected: there is no checksum. A corrupted digit inside a
 * well-formed number reads as another number. What stands behind it: the
 * frame check takes only lines that start like one of ours (a blank line,
 * a command echo, "BMS4S", the three settings keys, or "D.DDD," for the
 * measurements) and hold printable ASCII only; parse takes a measurement
 * line only in the exact layout (13 fields, four cells D.DDD in 1.000..4.999
 * V, SOC 0..100, the enable flags 0 or 1, a numeric beep code), else it is
 * counted and dropped; the core's plausibility checks the rest.
 *
 * Decisions (single source, see docs/PROTOCOLS.md):
 * - Fields 6/7 (called charge-off/load-off in the fact sheet) are 1 when
 *   charging/discharging is allowed, as dbus-serialbattery maps them to the
 *   FETs.
 * - The pack voltage is the sum of the four cells (dbus-serialbattery);
 *   vbat2 is shown by describe() only.
 * - Every b sensor is a battery temperature in its order (dbus-serialbattery
 *   publishes only the highest and lowest); a minus sign is kept (its digit
 *   filter drops it).
 * - Beep codes 2/3 raise Low/HighChargeTemperature at level 1, 4/5 Low/High
 *   Voltage at level 2, as dbus-serialbattery. Others raise nothing.
 * - BatterySize is the full capacity. VoltHigh/VoltLow (charge/discharge
 *   voltage per cell) have no snapshot field: describe() shows them.
 * - BMS_F_OPT_IN: its probe wakes the port with a bare LF and sends text
 *   commands, which another device's console would read.
 * - No writes: the command set for settings is not documented.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bms.h"
#include "hlpdata_wire.h"
#include "registry.h"

#define HLP_STATIC_EVERY 32 /* cycles between version/settings attempts while missing */
#define HLP_CELL_MIN_MV 1000
#define HLP_CELL_MAX_MV 4999
#define HLP_CURRENT_MAX_MA 2000000
#define HLP_MAX_TEMPS BMS_MAX_TEMPS

enum hlp_kind {
	HLP_NONE = 0,
	HLP_BLANK,   /* the wake-up LF, an empty line */
	HLP_COMMAND, /* a command line: a request or its echo */
	HLP_VERSION, /* BMS4S ... */
	HLP_SIZE,    /* BatterySize= */
	HLP_VHIGH,   /* VoltHigh= */
	HLP_VLOW,    /* VoltLow= */
	HLP_MEASURE, /* the m1 data line */
};

static const struct {
	const char *tag;
	enum hlp_kind kind;
} hlp_tags[] = {
	{HLP_VERSION_TAG, HLP_VERSION},
	{HLP_KEY_SIZE, HLP_SIZE},
	{HLP_KEY_VHIGH, HLP_VHIGH},
	{HLP_KEY_VLOW, HLP_VLOW},
};
static const char *const hlp_commands[] = {"pv", "ps", "m1"};

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/*
 * dbus-serialbattery looks for "m1" in the reply and takes the first number
 * after it: the measurements may follow an echoed command line, or stand on
 * the same line behind "m1" and one separator. Length of that prefix, or 0.
 */
static size_t hlp_m1_prefix(const uint8_t *p, size_t n)
{
	return n >= 3 && p[0] == 'm' && p[1] == '1' && (p[2] == ' ' || p[2] == '=' || p[2] == ':')
		       ? 3
		       : 0;
}

/* How the line at p starts: a kind, HLP_NONE, or 0 with *more when p is too short to tell. */
static enum hlp_kind hlp_start(const uint8_t *p, size_t n, size_t *ret_body, bool *more)
{
	*more = false;
	if (p[0] == '\n' || p[0] == '\r') {
		*ret_body = 0;
		return HLP_BLANK;
	}
	for (size_t i = 0; i < sizeof(hlp_commands) / sizeof(hlp_commands[0]); i++) {
		const char *c = hlp_commands[i];
		if (p[0] != (uint8_t)c[0])
			continue;
		if (n < 3) {
			*more = n < 2 || p[1] == (uint8_t)c[1];
			if (*more)
				return HLP_NONE;
			continue;
		}
		if (p[1] == (uint8_t)c[1] && (p[2] == '\r' || p[2] == '\n')) {
			*ret_body = 2;
			return HLP_COMMAND;
		}
	}
	for (size_t i = 0; i < sizeof(hlp_tags) / sizeof(hlp_tags[0]); i++) {
		size_t tl = strlen(hlp_tags[i].tag);
		size_t k = n < tl ? n : tl;
		if (memcmp(p, hlp_tags[i].tag, k) != 0)
			continue;
		if (k < tl) {
			*more = true;
			continue;
		}
		*ret_body = tl;
		return hlp_tags[i].kind;
	}
	/* the measurements: "D.DDD,", perhaps behind "m1" and a separator */
	size_t pre = hlp_m1_prefix(p, n);
	if (pre == 0 && n >= 1 && p[0] == 'm' && (n < 2 || p[1] == '1') && n < 3) {
		*more = true;
		return HLP_NONE;
	}
	static const char shape[] = "0.000,";
	size_t sl = sizeof(shape) - 1;
	size_t i = 0;
	for (; i < sl && pre + i < n; i++) {
		uint8_t c = p[pre + i];
		bool ok = shape[i] == '0' ? is_digit(c) : c == (uint8_t)shape[i];
		if (!ok)
			return HLP_NONE;
	}
	if (i < sl) {
		*more = true;
		return HLP_NONE;
	}
	*ret_body = pre + sl;
	return HLP_MEASURE;
}

static bool hlp_syntax(enum hlp_kind k, const uint8_t *p, size_t len);

static int hlp_line(const uint8_t *p, size_t n, size_t *ret_len, enum hlp_kind *ret_kind)
{
	if (n < 1)
		return 0;
	size_t body = 0;
	bool more = false;
	enum hlp_kind k = hlp_start(p, n, &body, &more);
	if (k == HLP_NONE)
		return more ? 0 : -1;
	for (size_t i = body; i < n && i < HLP_MAX_LINE; i++) {
		if (p[i] == '\n' || p[i] == '\r') {
			size_t end = i + 1;
			if (p[i] == '\r') {
				/* CR LF must fit in the longest line too (max_frame) */
				if (i + 2 > HLP_MAX_LINE)
					return -1;
				if (i + 1 == n)
					return 0;
				if (p[i + 1] != '\n')
					return -1;
				end = i + 2;
			}
			/* a line that starts like ours but is not in our layout is noise
			 * (a cut-off line run into the next one, a console's text) */
			if (!hlp_syntax(k, p, end))
				return -1;
			*ret_len = end;
			*ret_kind = k;
			return 1;
		}
		/* a command echo is the two letters alone */
		if (k == HLP_COMMAND || k == HLP_BLANK || p[i] < 0x20 || p[i] > 0x7E)
			return -1;
	}
	return n >= HLP_MAX_LINE ? -1 : 0;
}

static int hlp_frame_check(const uint8_t *p, size_t n, size_t *ret_len)
{
	enum hlp_kind k;
	return hlp_line(p, n, ret_len, &k);
}

/* ---- numbers ---- */

/* The text of a line without its CR/LF. */
static size_t hlp_text_len(const uint8_t *p, size_t len)
{
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	return len;
}

/*
 * A decimal number in p[0..n) (spaces around it allowed; `comma` takes ','
 * as the decimal point) scaled by 10^decimals: at most `decimals` places.
 */
static bool hlp_num(const uint8_t *p, size_t n, unsigned decimals, bool comma, int64_t *ret)
{
	while (n > 0 && p[0] == ' ') {
		p++;
		n--;
	}
	while (n > 0 && p[n - 1] == ' ')
		n--;
	size_t i = 0;
	bool neg = false;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	int64_t v = 0;
	size_t digits = 0, places = 0;
	bool point = false;
	for (; i < n; i++) {
		if (is_digit(p[i])) {
			if (digits >= 9)
				return false;
			if (point && ++places > decimals)
				return false;
			v = v * 10 + (p[i] - '0');
			digits++;
		} else if (!point && (p[i] == '.' || (comma && p[i] == ','))) {
			point = true;
		} else {
			return false;
		}
	}
	if (digits == 0 || (point && places == 0))
		return false;
	for (; places < decimals; places++)
		v *= 10;
	*ret = neg ? -v : v;
	return true;
}

/* The value after a settings key: up to the next space, as dbus-serialbattery reads it. */
static size_t hlp_value(const uint8_t *frame, size_t len, size_t key_len, const uint8_t **ret)
{
	size_t n = hlp_text_len(frame, len), i = key_len;
	while (i < n && frame[i] == ' ')
		i++;
	size_t e = i;
	while (e < n && frame[e] != ' ')
		e++;
	*ret = frame + i;
	return e - i;
}

/* ---- the measurement line ---- */

struct hlp_m1 {
	uint16_t cell_mv[HLP_CELLS];
	int32_t current_ma;
	uint8_t soc;
	bool charge_on, load_on;
	int32_t vbat2_mv;
	int64_t socnow, adj_milli, beep, led;
	uint8_t ntemps;
	int16_t temp_dc[HLP_MAX_TEMPS];
	unsigned other_tokens;
};

/* -EBADMSG: not the layout; -EPROTO: the layout with impossible values. */
static int hlp_m1_decode(const uint8_t *p, size_t len, struct hlp_m1 *m)
{
	size_t n = hlp_text_len(p, len);
	memset(m, 0, sizeof(*m));
	size_t start = hlp_m1_prefix(p, n);
	int bad = 0;
	unsigned f = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != ',')
			continue;
		const uint8_t *t = p + start;
		size_t tl = i - start;
		start = i + 1;
		int64_t v = 0;
		if (f < HLP_CELLS) {
			if (!hlp_num(t, tl, 3, false, &v))
				return -EBADMSG;
			if (v < HLP_CELL_MIN_MV || v > HLP_CELL_MAX_MV)
				bad = -EPROTO;
			else
				m->cell_mv[f] = (uint16_t)v;
		} else if (f == 4) {
			if (!hlp_num(t, tl, 3, false, &v))
				return -EBADMSG;
			if (v < -HLP_CURRENT_MAX_MA || v > HLP_CURRENT_MAX_MA)
				bad = -EPROTO;
			m->current_ma = (int32_t)v;
		} else if (f == 5 || f == 6 || f == 7) {
			if (!hlp_num(t, tl, 0, false, &v))
				return -EBADMSG;
			if (v < 0 || v > (f == 5 ? 100 : 1))
				bad = -EPROTO;
			else if (f == 5)
				m->soc = (uint8_t)v;
			else if (f == 6)
				m->charge_on = v == 1;
			else
				m->load_on = v == 1;
		} else if (f == 8) {
			if (!hlp_num(t, tl, 3, false, &v))
				return -EBADMSG;
			m->vbat2_mv = (int32_t)v;
		} else if (f == 9 || f == 10 || f == 12) {
			if (!hlp_num(t, tl, f == 10 ? 3 : 0, false, &v))
				return -EBADMSG;
			if (f == 9)
				m->socnow = v;
			else if (f == 10)
				m->adj_milli = v;
			else
				m->led = v;
		} else if (f == 11) {
			/* a bare number, as dbus-serialbattery's isdigit() */
			if (tl == 0 || tl > 3)
				return -EBADMSG;
			for (size_t k = 0; k < tl; k++)
				if (!is_digit(t[k]))
					return -EBADMSG;
			hlp_num(t, tl, 0, false, &m->beep);
		} else {
			/* "name value": b names a battery sensor, whole degC */
			const uint8_t *sp = memchr(t, ' ', tl);
			if (!sp || sp == t || t[0] != 'b' || m->ntemps >= HLP_MAX_TEMPS) {
				m->other_tokens++;
			} else {
				size_t vl = tl - (size_t)(sp + 1 - t);
				if (!hlp_num(sp + 1, vl, 0, false, &v))
					return -EBADMSG;
				if (v < -60 || v > 150)
					bad = -EPROTO;
				else
					m->temp_dc[m->ntemps++] = (int16_t)(v * 10);
			}
		}
		f++;
	}
	if (f < HLP_M1_FIELDS)
		return -EBADMSG;
	return bad;
}

/* The layout of a whole line of kind k. */
static bool hlp_syntax(enum hlp_kind k, const uint8_t *p, size_t len)
{
	struct hlp_m1 m;
	const uint8_t *vp;
	int64_t v;
	size_t n = hlp_text_len(p, len), tl;
	switch (k) {
	case HLP_MEASURE:
		return hlp_m1_decode(p, len, &m) != -EBADMSG;
	case HLP_VERSION:
		/* the tag once: two lines run together hold it twice */
		tl = strlen(HLP_VERSION_TAG);
		for (size_t i = 1; i + tl <= n; i++)
			if (!memcmp(p + i, HLP_VERSION_TAG, tl))
				return false;
		return true;
	case HLP_SIZE:
	case HLP_VHIGH:
	case HLP_VLOW:
		tl = k == HLP_SIZE    ? strlen(HLP_KEY_SIZE)
		     : k == HLP_VHIGH ? strlen(HLP_KEY_VHIGH)
				      : strlen(HLP_KEY_VLOW);
		n = hlp_value(p, len, tl, &vp);
		return hlp_num(vp, n, 3, true, &v);
	default:
		return true;
	}
}

/* ---- requests ---- */

/* The command a request descriptor stands for; 0 = the cycle has no such step. */
static uint16_t hlp_cmd(const struct bms_request *req)
{
	switch (req->kind) {
	case BMS_REQ_PROBE:
		return req->step == 0 ? HLP_CMD_VERSION : req->step == 1 ? HLP_CMD_MEASURE : 0;
	case BMS_REQ_POLL:
		return req->step == 0   ? HLP_CMD_MEASURE
		       : req->step == 1 ? HLP_CMD_VERSION
		       : req->step == 2 ? HLP_CMD_SETTINGS
					: 0;
	case BMS_REQ_READ:
		return req->step == 0 ? req->reg : 0;
	default:
		return 0;
	}
}

static bool hlp_known(uint16_t cmd)
{
	return cmd == HLP_CMD_VERSION || cmd == HLP_CMD_SETTINGS || cmd == HLP_CMD_MEASURE;
}

static int hlp_build_request(void *state, const struct bms_request *req, uint8_t *out, size_t cap)
{
	(void)state;
	if (req->kind == BMS_REQ_SET)
		return -EOPNOTSUPP;
	if (req->kind == BMS_REQ_READ && !hlp_known(req->reg))
		return -EOPNOTSUPP;
	uint16_t cmd = hlp_cmd(req);
	if (cmd == 0)
		return 0;
	/* the wake-up LF goes in front of the version command */
	size_t n = 0, need = cmd == HLP_CMD_VERSION ? 4 : 3;
	if (cap < need)
		return -ENOBUFS;
	if (cmd == HLP_CMD_VERSION)
		out[n++] = '\n';
	out[n++] = (uint8_t)(cmd >> 8);
	out[n++] = (uint8_t)cmd;
	out[n++] = '\n';
	return (int)n;
}

/* The command a reply line answers. */
static uint16_t hlp_kind_cmd(enum hlp_kind k)
{
	switch (k) {
	case HLP_VERSION:
		return HLP_CMD_VERSION;
	case HLP_SIZE:
	case HLP_VHIGH:
	case HLP_VLOW:
		return HLP_CMD_SETTINGS;
	case HLP_MEASURE:
		return HLP_CMD_MEASURE;
	default:
		return 0;
	}
}

static void hlp_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	n = hlp_text_len(p, n);
	while (n > 0 && p[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n && k + 1 < cap; i++)
		out[k++] = (char)p[i];
	out[k] = '\0';
}

static int hlp_parse(void *state, const struct bms_request *req, const uint8_t *frame, size_t len,
		     struct bms_snapshot *snap)
{
	(void)state;
	size_t flen = 0;
	enum hlp_kind k = HLP_NONE;
	if (hlp_line(frame, len, &flen, &k) != 1 || flen != len)
		return -EBADMSG;
	uint16_t cmd = hlp_cmd(req);
	if (cmd == 0)
		return -EPROTO;
	/* a wake-up, a command line (our echo), a line answering another command */
	if (hlp_kind_cmd(k) != cmd)
		return BMS_FOREIGN;
	switch (k) {
	case HLP_MEASURE: {
		struct hlp_m1 m;
		int r = hlp_m1_decode(frame, len, &m);
		if (r < 0)
			return r;
		int32_t sum = 0;
		snap->cell_count = HLP_CELLS;
		for (unsigned i = 0; i < HLP_CELLS; i++) {
			snap->cell_mv[i] = m.cell_mv[i];
			sum += m.cell_mv[i];
		}
		snap->voltage_mv = sum;
		snap->current_ma = m.current_ma;
		snap->soc_cpct = (uint16_t)(m.soc * 100u);
		snap->charge_fet = m.charge_on;
		snap->discharge_fet = m.load_on;
		snap->temp_count = m.ntemps;
		memcpy(snap->temp_dc, m.temp_dc, sizeof(m.temp_dc));
		memset(snap->alarm, 0, sizeof(snap->alarm));
		if (m.beep == HLP_BEEP_CHARGE_LOW_TEMP)
			snap->alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE] = 1;
		if (m.beep == HLP_BEEP_CHARGE_HIGH_TEMP)
			snap->alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE] = 1;
		if (m.beep == HLP_BEEP_LOW_VOLTAGE)
			snap->alarm[BMS_ALARM_LOW_VOLTAGE] = 2;
		if (m.beep == HLP_BEEP_HIGH_VOLTAGE)
			snap->alarm[BMS_ALARM_HIGH_VOLTAGE] = 2;
		snap->valid |= BMS_V_CELLS | BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC |
			       BMS_V_FETS | BMS_V_ALARMS | (m.ntemps ? BMS_V_TEMPS : 0);
		return 0;
	}
	case HLP_VERSION:
		hlp_text(frame, len, snap->hw_version, sizeof(snap->hw_version));
		snap->valid |= BMS_V_HW_VERSION;
		return 0;
	case HLP_SIZE: {
		int64_t ah;
		const uint8_t *vp;
		size_t vl = hlp_value(frame, len, strlen(HLP_KEY_SIZE), &vp);
		if (!hlp_num(vp, vl, 0, false, &ah))
			return -EBADMSG;
		if (ah <= 0 || ah > 5000)
			return -EPROTO;
		snap->capacity_full_mah = (int32_t)(ah * 1000);
		snap->valid |= BMS_V_CAP_FULL;
		return 0;
	}
	default:
		/* VoltHigh/VoltLow: no snapshot field; the settings go on (READ: a whole reply) */
		return req->kind == BMS_REQ_READ ? 0 : 1;
	}
}

/* ---- describe ---- */

int bms_hlpdata_describe(const uint8_t *frame, size_t len, struct bms_frame_desc *x)
{
	size_t flen = 0;
	enum hlp_kind k = HLP_NONE;
	if (hlp_line(frame, len, &flen, &k) != 1 || flen != len)
		return -1;
	switch (k) {
	case HLP_BLANK:
		bms_desc_init(x, BMS_DIR_REQUEST, 0, -1, "wake-up");
		return 0;
	case HLP_COMMAND: {
		uint16_t cmd = (uint16_t)(frame[0] << 8 | frame[1]);
		bms_desc_init(x, BMS_DIR_REQUEST, cmd, -1,
			      cmd == HLP_CMD_VERSION    ? "read version"
			      : cmd == HLP_CMD_SETTINGS ? "read settings"
							: "read measurements");
		bms_desc_text(x, "command", (const char *)frame, 2);
		return 0;
	}
	case HLP_VERSION: {
		char t[BMS_DESC_TEXT];
		hlp_text(frame, len, t, sizeof(t));
		bms_desc_init(x, BMS_DIR_REPLY, HLP_CMD_VERSION, -1, "version");
		bms_desc_text(x, "version_text", t, strlen(t));
		return 0;
	}
	case HLP_SIZE:
	case HLP_VHIGH:
	case HLP_VLOW: {
		bms_desc_init(x, BMS_DIR_REPLY, HLP_CMD_SETTINGS, -1, "settings");
		size_t tl = k == HLP_SIZE    ? strlen(HLP_KEY_SIZE)
			    : k == HLP_VHIGH ? strlen(HLP_KEY_VHIGH)
					     : strlen(HLP_KEY_VLOW);
		int64_t v;
		const uint8_t *vp;
		size_t vl = hlp_value(frame, len, tl, &vp);
		bool ok = hlp_num(vp, vl, k == HLP_SIZE ? 0 : 3, true, &v);
		if (ok && k == HLP_SIZE)
			bms_desc_num(x, "battery_size_ah", (double)v);
		else if (ok)
			bms_desc_num(x, k == HLP_VHIGH ? "volt_high_cell_v" : "volt_low_cell_v",
				     (double)v / 1000.0);
		return 0;
	}
	case HLP_MEASURE: {
		bms_desc_init(x, BMS_DIR_REPLY, HLP_CMD_MEASURE, -1, "measurements");
		struct hlp_m1 m;
		if (hlp_m1_decode(frame, len, &m) == -EBADMSG)
			return 0;
		bms_desc_num(x, "vbat2_v", m.vbat2_mv / 1000.0);
		bms_desc_num(x, "soc_now_pct", (double)m.socnow);
		bms_desc_num(x, "adj", (double)m.adj_milli / 1000.0);
		bms_desc_num(x, "beep_code", (double)m.beep);
		bms_desc_num(x, "led", (double)m.led);
		bms_desc_num(x, "other_tokens", m.other_tokens);
		return 0;
	}
	default:
		return -1;
	}
}

/* Poll steps: measurements, then the version and the settings (static data). */
static const struct bms_step hlp_steps[] = {
	{0},
	{.flags = BMS_STEP_STATIC, .every = HLP_STATIC_EVERY, .fills = BMS_V_HW_VERSION},
	{.flags = BMS_STEP_STATIC, .every = HLP_STATIC_EVERY, .fills = BMS_V_CAP_FULL},
};
static const uint32_t hlp_bauds[] = {9600, 0};
static const struct bms_link hlp_links[] = {
	{.kind = BMS_LINK_SERIAL, .serial = {hlp_bauds, BMS_8N1}},
};

const struct bms_driver bms_hlpdata = {
	.name = "hlpdata",
	.description = "HLPdata BMS4S (4 cells), text commands pv/ps/m1",
	.spec = "HLPdata BMS4S text interface; protocols.md section 14",
	.links = hlp_links,
	.nlinks = sizeof(hlp_links) / sizeof(hlp_links[0]),
	/* dbus-serialbattery gives pv and m1 0.3 s and the settings 2 s; each
	 * settings line restarts the wait */
	.response_timeout_ms = 1000,
	.inter_frame_gap_ms = 50,
	/* dbus-serialbattery polls every 10 s; one m1 exchange takes ~0.3 s */
	.poll_interval_ms = 5000,
	.max_frame = HLP_MAX_LINE,
	.flags = BMS_F_OPT_IN,
	.alarms = BMS_ALARM_BIT(LOW_CHARGE_TEMPERATURE) | BMS_ALARM_BIT(HIGH_CHARGE_TEMPERATURE) |
		  BMS_ALARM_BIT(LOW_VOLTAGE) | BMS_ALARM_BIT(HIGH_VOLTAGE),
	.steps = hlp_steps,
	.nsteps = sizeof(hlp_steps) / sizeof(hlp_steps[0]),
	.build_request = hlp_build_request,
	.frame_check = hlp_frame_check,
	.parse = hlp_parse,
};
