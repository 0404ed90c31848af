/* SPDX-License-Identifier: MIT */
/*
 * HLPdata BMS4S device simulator (bms/sim/sim.h), built from the documented
 * layout (no capture is public): it reads the command lines of a write (a
 * bare LF wakes it and is otherwise ignored) and answers pv with "BMS4S ..." (the state's
 * hw_version when it starts so, else a default), ps with three settings lines (decimal commas), m1
 * with the measurement line (no echo: whether the unit echoes is not known, and the driver takes
 * both): the first four cells, the current, SOC, the FETs as the enable flags, the battery sensors
 * in whole degC as "bN t" tokens, and a beep code for the first alarm it knows. Anything else:
 * silence.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bms/hlpdata_wire.h"
#include "sim.h"

#define SIM_VERSION HLP_VERSION_TAG " SIM 4.1.89"

struct out {
	uint8_t *p;
	size_t cap, n;
	bool full;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
	char line[HLP_MAX_LINE * 2];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(line) || o->n + (size_t)k > o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->n, line, (size_t)k);
	o->n += (size_t)k;
}

/* "-12.345" from mA, exactly */
static void milli(char *b, size_t cap, int64_t v)
{
	int64_t a = v < 0 ? -v : v;
	snprintf(b, cap, "%s%lld.%03lld", v < 0 ? "-" : "", (long long)(a / 1000),
		 (long long)(a % 1000));
}

static unsigned beep_code(const struct bms_snapshot *s)
{
	if (!(s->valid & BMS_V_ALARMS))
		return 0;
	if (s->alarm[BMS_ALARM_HIGH_VOLTAGE])
		return HLP_BEEP_HIGH_VOLTAGE;
	if (s->alarm[BMS_ALARM_LOW_VOLTAGE])
		return HLP_BEEP_LOW_VOLTAGE;
	if (s->alarm[BMS_ALARM_HIGH_CHARGE_TEMPERATURE])
		return HLP_BEEP_CHARGE_HIGH_TEMP;
	if (s->alarm[BMS_ALARM_LOW_CHARGE_TEMPERATURE])
		return HLP_BEEP_CHARGE_LOW_TEMP;
	return 0;
}

static void measurements(const struct bms_snapshot *s, struct out *o)
{
	char cur[24], vb[24];
	int32_t sum = 0;
	for (unsigned i = 0; i < HLP_CELLS; i++) {
		unsigned mv = i < s->cell_count ? s->cell_mv[i] : 3300;
		if (mv < 1000)
			mv = 1000;
		if (mv > 4999)
			mv = 4999;
		sum += (int32_t)mv;
		emit(o, "%u.%03u,", mv / 1000, mv % 1000);
	}
	milli(cur, sizeof(cur), s->current_ma);
	milli(vb, sizeof(vb), sum);
	unsigned soc = s->soc_cpct > 10000 ? 100 : s->soc_cpct / 100u;
	emit(o, "%s,%u,%d,%d,%s,%u,0,%u,1", cur, soc, s->charge_fet ? 1 : 0,
	     s->discharge_fet ? 1 : 0, vb, soc, beep_code(s));
	unsigned temps = s->temp_count > BMS_MAX_TEMPS ? BMS_MAX_TEMPS : s->temp_count;
	for (unsigned i = 0; i < temps; i++)
		emit(o, ",b%u %d", i + 1, s->temp_dc[i] / 10);
	emit(o, "\r\n");
}

static int hlp_sim_respond(struct bms_snapshot *snap, uint8_t address, const uint8_t *req,
			   size_t req_len, uint8_t *out, size_t cap)
{
	(void)address;
	struct out o = {out, cap, 0, false};
	size_t start = 0;
	for (size_t i = 0; i < req_len; i++) {
		if (req[i] != '\n')
			continue;
		size_t n = i - start;
		const uint8_t *l = req + start;
		start = i + 1;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (n != 2)
			continue; /* the wake-up, or nothing it knows */
		if (!memcmp(l, "pv", 2)) {
			emit(&o, "%s\r\n",
			     !strncmp(snap->hw_version, HLP_VERSION_TAG, strlen(HLP_VERSION_TAG))
				     ? snap->hw_version
				     : SIM_VERSION);
		} else if (!memcmp(l, "ps", 2)) {
			int32_t ah =
				snap->capacity_full_mah > 0 ? snap->capacity_full_mah / 1000 : 100;
			emit(&o,
			     HLP_KEY_SIZE "%ld\r\n" HLP_KEY_VHIGH "3,550\r\n" HLP_KEY_VLOW
					  "3,000\r\n",
			     (long)(ah > 0 ? ah : 1));
		} else if (!memcmp(l, "m1", 2)) {
			measurements(snap, &o);
		}
	}
	return o.full ? -ENOBUFS : (int)o.n;
}

const struct bms_sim bms_sim_hlpdata = {"hlpdata", hlp_sim_respond};
