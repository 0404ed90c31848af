/* SPDX-License-Identifier: MIT */
/*
 * Charge control: the limits every Victron charger and inverter obeys.
 *
 * Pure: everything this file knows comes in as arguments (config, last good
 * snapshot, its age, the previous state, now) and goes out through the state
 * and the result. Behaviour follows dbus-serialbattery (docs/CHARGE.md lists
 * each difference and why). Voltage comparisons are done in integer mV so a
 * pack exactly at 16 x 3.450 V compares equal however the config double was
 * rounded.
 */
#include "charge.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/fields.h"

#define MS_PER_HOUR 3600000ull
#define MS_PER_DAY 86400000.0

/* Absorption is cancelled when the pack falls this far below the target:
 * a load took over, the cells are no longer being topped. */
#define ABSORPTION_CANCEL_MV 500

/* The separator the Python driver puts before the interpolation mode (U+2502). */
#define MODE_SEP " \xe2\x94\x82 "

static int64_t to_mv(double v)
{
	return (int64_t)llround(v * 1000.0);
}

static double s_to_ms(double s)
{
	return s * 1000.0;
}

/* Elapsed ms, 0 when the clock seems to go backwards (never trust it to). */
static uint64_t since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* ---- piecewise tables ------------------------------------------------- */

/* Inputs are whole mV, 0.1 degC or 0.01 %: far coarser than this, so an
 * input this close to a breakpoint is that breakpoint (3100 mV / 1000 and the
 * config's 3.1 may differ in the last bit). */
#define BREAKPOINT_EPS 1e-6

/*
 * Table lookup, the list read in ascending order whatever its direction.
 * Outside the breakpoints the end values hold. Step mode: between breakpoints
 * k-1 and k, `next` gives y[k] (the value of the breakpoint above), otherwise
 * y[k-1] (the breakpoint below): which one differs per limit, as in the Python
 * driver. Exactly at a breakpoint the step output jumps, and there the lower
 * of the two values that meet is taken: a limit at a breakpoint never exceeds
 * the limit just beside it (-10.0 degC on the DCL table gives 0 A, as just
 * below it). A table that does not validate yields 0: in doubt, no current.
 */
static double table_lookup(const struct cfg_dlist *x, const struct cfg_dlist *y, double in,
			   int interp, bool next)
{
	unsigned n = x->n;
	if (n == 0 || y->n != n)
		return 0.0;
	bool desc = n >= 2 && x->v[0] > x->v[n - 1];
#define XI(i) (x->v[desc ? n - 1 - (i) : (i)])
#define YI(i) (y->v[desc ? n - 1 - (i) : (i)])
/* Step value on the open interval below breakpoint j (j = n: above the last). */
#define STEP_BELOW(j) ((j) == 0 ? YI(0) : (j) == n ? YI(n - 1) : next ? YI(j) : YI((j)-1))
	if (interp == CHARGE_INTERP_STEP)
		for (unsigned i = 0; i < n; i++)
			if (fabs(in - XI(i)) <= BREAKPOINT_EPS)
				return fmin(STEP_BELOW(i), STEP_BELOW(i + 1));
	if (in < XI(0))
		return YI(0);
	if (in >= XI(n - 1))
		return YI(n - 1);
	unsigned k = 1;
	while (k < n - 1 && !(XI(k) > in))
		k++;
	/* now XI(k-1) <= in < XI(k) */
	if (interp == CHARGE_INTERP_STEP)
		return STEP_BELOW(k);
	double x0 = XI(k - 1), x1 = XI(k), y0 = YI(k - 1), y1 = YI(k);
	return y0 + (y1 - y0) * (in - x0) / (x1 - x0);
#undef STEP_BELOW
#undef XI
#undef YI
}

/* ---- candidate limits and their reason text --------------------------- */

struct candidates {
	unsigned n;
	double v[8];
	const char *why[8];
};

static void cand_add(struct candidates *c, double v, const char *why)
{
	if (c->n < sizeof(c->v) / sizeof(c->v[0])) {
		c->v[c->n] = v < 0 ? 0 : v;
		c->why[c->n] = why;
		c->n++;
	}
}

/*
 * The minimum of the candidates and the names of those that set it. The first
 * `base` candidates are the configured/BMS maximum; a table limit only counts
 * when it is below them, so a table at full current is not named.
 */
static double cand_min(const struct candidates *c, unsigned base, char *why, size_t len)
{
	double basemin = INFINITY;
	for (unsigned i = 0; i < base && i < c->n; i++)
		basemin = fmin(basemin, c->v[i]);
	double m = basemin;
	for (unsigned i = base; i < c->n; i++)
		if (c->v[i] < basemin)
			m = fmin(m, c->v[i]);
	why[0] = '\0';
	size_t used = 0;
	for (unsigned i = 0; i < c->n; i++) {
		if (i >= base && !(c->v[i] < basemin))
			continue;
		if (fabs(c->v[i] - m) > 1e-9)
			continue;
		int w = snprintf(why + used, len - used, "%s%s", used ? ", " : "", c->why[i]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	/* Whole mA steps, rounded down: a limit never exceeds any of its inputs. */
	return floor(m * 1000.0 + 1e-6) / 1000.0;
}

/* ---- one current limit with recovery hold and ramp --------------------- */

struct limiter_cfg {
	double max_a, threshold, hold_s, rate;
};

/*
 * Reductions apply at once; increases wait out a hold and then ramp; from 0
 * the target must first exceed the recovery threshold. The first limit after
 * start is taken as it is: there is no reduction to recover from, and a 0
 * would switch an inverting system off. Returns true while the limit is held
 * below its target by this recovery logic (reason gets " *").
 */
static bool limiter_step(struct charge_limiter *l, const struct limiter_cfg *c, double target,
			 uint64_t now)
{
	if (!l->set || target <= l->value_a) {
		l->set = true;
		l->value_a = target;
		l->holding = l->ramping = false;
		return false;
	}
	if (l->value_a <= 0 && target <= c->max_a * c->threshold) {
		l->holding = l->ramping = false;
		return true;
	}
	if (!l->holding && !l->ramping) {
		l->holding = true;
		l->hold_start_ms = now;
	}
	if (l->holding) {
		double hold_ms = s_to_ms(c->hold_s);
		if ((double)since(now, l->hold_start_ms) < hold_ms)
			return true;
		l->holding = false;
		l->ramping = true;
		/* The ramp starts when the hold ended, not when we noticed. */
		l->ramp_start_ms = l->hold_start_ms + (uint64_t)hold_ms;
		l->ramp_base_a = l->value_a;
	}
	double v = c->rate <= 0 ? target
				: l->ramp_base_a +
					  c->rate * (double)since(now, l->ramp_start_ms) / 1000.0;
	if (v >= target) {
		l->value_a = target;
		l->ramping = false;
		return false;
	}
	l->value_a = v;
	return true;
}

/* A reduction to 0 for missing data: what comes after it is a recovery (hold
 * and ramp), unless nothing had been computed yet. */
static void limiter_cut(struct charge_limiter *l)
{
	bool set = l->set;
	memset(l, 0, sizeof(*l));
	l->set = set;
}

/* ---- cells ------------------------------------------------------------ */

struct cells {
	unsigned count; /* as reported by the BMS: the number of cells in series */
	unsigned valid; /* plausible readings */
	uint32_t bad;   /* bit n: cell n+1 is not a measurement */
	int64_t min_mv, max_mv, sum_mv;
};

/*
 * True when every cell is a measurement: only then may the cells steer.
 * Which cells count is bms_stats_compute()'s rule, the same that publish/
 * shows, so the limits never come from a cell the bus does not show.
 */
static bool read_cells(const struct bms_stats *stats, struct cells *c)
{
	memset(c, 0, sizeof(*c));
	c->count = stats->cells_reported;
	c->valid = stats->cell_count;
	c->bad = stats->cell_excluded;
	c->min_mv = stats->cell_min_mv;
	c->max_mv = stats->cell_max_mv;
	c->sum_mv = stats->cell_sum_mv;
	return c->count > 0 && c->valid == c->count;
}

/* Sum of min(Vi, cap) over the cells (all good: see read_cells): what the
 * pack may be charged to without pushing the high cells further (the
 * "penalty sum"). */
static int64_t clipped_sum(const struct bms_snapshot *s, unsigned count, int64_t cap)
{
	int64_t sum = 0;
	for (unsigned i = 0; i < count; i++) {
		int64_t v = s->cell_mv[i];
		sum += v < cap ? v : cap;
	}
	return sum;
}

/* ---- CVL --------------------------------------------------------------- */

static void append(char *buf, size_t len, const char *s)
{
	size_t used = strlen(buf);
	if (used < len)
		snprintf(buf + used, len - used, "%s", s);
}

static void cvl_step(const struct charge_config *cfg, const struct bms_snapshot *snap,
		     const struct cells *c, struct charge_state *st, uint64_t now, char *mode,
		     size_t mode_len)
{
	int64_t cells = c->count;

	if (!cfg->cvl_control) {
		st->soc_reset_requested = false;
		st->float_mode = false;
		st->absorption_running = false;
		st->phase = CHARGE_PHASE_BULK;
		st->ovp_limited = false;
		st->cvl_v = (double)(to_mv(cfg->max_cell_voltage) * cells) / 1000.0;
		st->cvl_set = true;
		st->absorb_v = st->cvl_v;
		st->absorb_set = true;
		snprintf(mode, mode_len, "Keep always max voltage");
		return;
	}

	/* Periodic full charge: due after soc_reset_after_days of running time. */
	if (cfg->soc_reset_after_days <= 0) {
		st->soc_reset_requested = false;
	} else if (!st->soc_reset_requested) {
		double due = cfg->soc_reset_after_days * MS_PER_DAY;
		if (!st->soc_reset_known || (double)((int64_t)now - st->soc_reset_last_ms) > due)
			st->soc_reset_requested = true;
	}

	int64_t vmax_cell = to_mv(st->soc_reset_requested ? cfg->soc_reset_cell_voltage
							  : cfg->max_cell_voltage);
	int64_t max_mv = vmax_cell * cells;
	int64_t min_mv = to_mv(cfg->min_cell_voltage) * cells;
	int64_t float_mv = to_mv(cfg->float_cell_voltage) * cells;
	int64_t diff = c->max_mv - c->min_mv;
	int64_t float_diff = to_mv(cfg->float_cell_diff);
	bool soc_ok = (snap->valid & BMS_V_SOC) != 0;
	double soc = bms_cpct_to_pct(snap->soc_cpct);

	/* Phase switching (absorption timer, back to bulk). */
	if (!st->absorption_running) {
		if (!st->float_mode && c->sum_mv >= max_mv && diff <= float_diff) {
			st->absorption_running = true;
			st->absorption_start_ms = now;
		} else if (st->float_mode &&
			   ((cfg->bulk_soc > 0 && soc_ok && soc < cfg->bulk_soc) ||
			    (cfg->bulk_cell_diff > 0 && diff >= to_mv(cfg->bulk_cell_diff)) ||
			    st->soc_reset_requested)) {
			st->float_mode = false;
		}
	} else {
		/* The spread grew: the cells are not balanced yet, absorb longer. */
		if (diff > float_diff + to_mv(cfg->float_cell_diff_margin))
			st->absorption_start_ms = now;
		if ((double)since(now, st->absorption_start_ms) > s_to_ms(cfg->absorption_time)) {
			st->float_mode = true;
			st->absorption_running = false;
		} else if (c->sum_mv < max_mv - ABSORPTION_CANCEL_MV) {
			st->absorption_running = false;
		}
	}

	double max_v = (double)max_mv / 1000.0;
	double float_v = (double)float_mv / 1000.0;

	double cv = max_v;
	if (cfg->cvl_controller == CHARGE_CVL_CTRL_PENALTY && c->max_mv > vmax_cell) {
		int64_t p = clipped_sum(snap, c->count, vmax_cell);
		if (p < min_mv)
			p = min_mv;
		if (p > max_mv)
			p = max_mv;
		cv = (double)p / 1000.0;
	}
	/* What a bank needs from a pack in float: the voltage it would ask for
	 * if the bank went back to bulk (never above its OVP proposal). */
	st->absorb_v = cv;
	st->absorb_set = true;

	if (!st->float_mode) {
		const char *tag = "";
		if (!st->cvl_set || cv <= st->cvl_v) {
			/* Reductions (and the first value) apply at once. */
			st->cvl_v = cv;
			st->cvl_set = true;
			st->ovp_limited = cv < max_v;
			if (st->ovp_limited) {
				st->ovp_limit_ms = now;
				st->ovp_ramp_base_v = cv;
				tag = " (Cell OVP)";
			}
		} else if (!st->ovp_limited) {
			/* No over-voltage episode to recover from (e.g. back from float). */
			st->cvl_v = cv;
			st->ovp_limited = cv < max_v;
			if (st->ovp_limited) {
				st->ovp_limit_ms = now;
				st->ovp_ramp_base_v = cv;
				tag = " (Cell OVP)";
			}
		} else {
			double s = (double)since(now, st->ovp_limit_ms);
			double hold = s_to_ms(cfg->cvl_recovery_hold);
			if (s < hold) {
				st->ovp_ramp_base_v = st->cvl_v;
				tag = " (Cell OVP)";
			} else {
				double v = cfg->cvl_recovery_rate <= 0
						   ? cv
						   : st->ovp_ramp_base_v + cfg->cvl_recovery_rate *
										   (s - hold) /
										   1000.0;
				/* Unlike the Python driver, never overshoot the proposal. */
				st->cvl_v = fmin(v, cv);
				if (st->cvl_v >= max_v) {
					st->cvl_v = max_v;
					st->ovp_limited = false;
				} else {
					tag = " (Cell OVP*)";
				}
			}
		}
		st->absorb_v = st->cvl_v;
		st->phase = st->absorption_running ? CHARGE_PHASE_ABSORPTION : CHARGE_PHASE_BULK;
		snprintf(mode, mode_len, "%s%s", st->absorption_running ? "Absorption" : "Bulk",
			 tag);
		if (st->soc_reset_requested)
			append(mode, mode_len, " & SoC Reset");
		if ((snap->valid & BMS_V_BALANCING) && snap->balancing)
			append(mode, mode_len, " + Balancing");
		if ((snap->valid & BMS_V_HEATING) && snap->heating)
			append(mode, mode_len, " + Heating");
	} else {
		st->ovp_limited = false;
		if (st->soc_reset_requested) {
			st->soc_reset_requested = false;
			st->soc_reset_known = true;
			st->soc_reset_last_ms = (int64_t)now;
		}
		if (!st->cvl_set) {
			/* Restarted in float: no transition to make. */
			st->cvl_v = float_v;
			st->cvl_set = true;
			st->phase = CHARGE_PHASE_FLOAT;
		} else if (st->phase != CHARGE_PHASE_FLOAT &&
			   st->phase != CHARGE_PHASE_FLOAT_TRANSITION) {
			st->phase = CHARGE_PHASE_FLOAT_TRANSITION;
			st->transition_start_ms = now;
			st->transition_start_v = st->cvl_v;
		} else if (st->phase == CHARGE_PHASE_FLOAT_TRANSITION) {
			double drop =
				cfg->float_ramp_rate <= 0
					? INFINITY
					: cfg->float_ramp_rate *
						  (double)since(now, st->transition_start_ms) /
						  1000.0;
			double v = st->transition_start_v - drop;
			if (v <= float_v) {
				st->cvl_v = float_v;
				st->phase = CHARGE_PHASE_FLOAT;
			} else {
				st->cvl_v = v;
			}
		} else {
			st->cvl_v = float_v;
		}
		snprintf(mode, mode_len, "%s",
			 st->phase == CHARGE_PHASE_FLOAT ? "Float" : "Float Transition");
	}
}

/* ---- targets ------------------------------------------------------------ */

struct targets {
	double ccl_a, dcl_a;
	bool have_fets;
};

/*
 * The CCL and DCL targets from one snapshot and their reasons. c: the cells,
 * or NULL when they are not all measurements: then the cell tables cannot be
 * evaluated and only the other candidates count (the caller decides what
 * missing cells mean for each direction).
 */
static void targets(const struct charge_config *cfg, const struct bms_snapshot *snap,
		    const struct cells *c, struct targets *tg, struct charge_result *out)
{
	const struct bms_stats *sts = &out->stats;
	bool have_t = sts->temp_count > 0;
	double tmin = have_t ? bms_dc_to_c(sts->temp_min_dc) : 0;
	double tmax = have_t ? bms_dc_to_c(sts->temp_max_dc) : 0;
	bool have_mos = (snap->valid & BMS_V_MOSFET_TEMP) != 0;
	double tmos = bms_dc_to_c(snap->mosfet_temp_dc);
	bool have_soc = (snap->valid & BMS_V_SOC) != 0;
	double soc = bms_cpct_to_pct(snap->soc_cpct);
	tg->have_fets = (snap->valid & BMS_V_FETS) != 0;
	int ip = cfg->interpolation;

	/* CCL candidates. */
	struct candidates cc = {0};
	cand_add(&cc, cfg->max_charge_current, "Max Battery Charge Current");
	if (cfg->use_bms_current_limits && (snap->valid & BMS_V_MAX_CHARGE_I) &&
	    bms_ma_to_a(snap->max_charge_ma) < cfg->max_charge_current)
		cand_add(&cc, bms_ma_to_a(snap->max_charge_ma), "BMS Settings");
	unsigned cbase = cc.n;
	double mc = cfg->max_charge_current;
	if (cfg->ccl_cell_voltage_enable && c)
		cand_add(&cc,
			 mc * table_lookup(&cfg->ccl_cell_voltages,
					   &cfg->ccl_cell_voltage_fractions, bms_mv_to_v(c->max_mv),
					   ip, false),
			 "Cell Voltage");
	if (cfg->ccl_temperature_enable && have_t)
		cand_add(&cc,
			 mc * fmin(table_lookup(&cfg->ccl_temperatures,
						&cfg->ccl_temperature_fractions, tmax, ip, false),
				   table_lookup(&cfg->ccl_temperatures,
						&cfg->ccl_temperature_fractions, tmin, ip, false)),
			 "Temp");
	if (cfg->ccl_mosfet_temperature_enable && have_mos)
		cand_add(&cc,
			 mc * table_lookup(&cfg->ccl_mosfet_temperatures,
					   &cfg->ccl_mosfet_temperature_fractions, tmos, ip, false),
			 "MOSFET Temp");
	if (cfg->ccl_soc_enable && have_soc)
		cand_add(&cc,
			 mc * table_lookup(&cfg->ccl_socs, &cfg->ccl_soc_fractions, soc, ip, true),
			 "SoC");
	if (tg->have_fets && !snap->charge_fet)
		cand_add(&cc, 0.0, "BMS");

	/* DCL candidates, symmetric. */
	struct candidates dc = {0};
	cand_add(&dc, cfg->max_discharge_current, "Max Battery Discharge Current");
	if (cfg->use_bms_current_limits && (snap->valid & BMS_V_MAX_DISCHARGE_I) &&
	    bms_ma_to_a(snap->max_discharge_ma) < cfg->max_discharge_current)
		cand_add(&dc, bms_ma_to_a(snap->max_discharge_ma), "BMS Settings");
	unsigned dbase = dc.n;
	double md = cfg->max_discharge_current;
	if (cfg->dcl_cell_voltage_enable && c)
		cand_add(&dc,
			 md * table_lookup(&cfg->dcl_cell_voltages,
					   &cfg->dcl_cell_voltage_fractions, bms_mv_to_v(c->min_mv),
					   ip, true),
			 "Cell Voltage");
	if (cfg->dcl_temperature_enable && have_t)
		cand_add(&dc,
			 md * fmin(table_lookup(&cfg->dcl_temperatures,
						&cfg->dcl_temperature_fractions, tmax, ip, true),
				   table_lookup(&cfg->dcl_temperatures,
						&cfg->dcl_temperature_fractions, tmin, ip, true)),
			 "Temp");
	if (cfg->dcl_mosfet_temperature_enable && have_mos)
		cand_add(&dc,
			 md * table_lookup(&cfg->dcl_mosfet_temperatures,
					   &cfg->dcl_mosfet_temperature_fractions, tmos, ip, false),
			 "MOSFET Temp");
	if (cfg->dcl_soc_enable && have_soc)
		cand_add(&dc,
			 md * table_lookup(&cfg->dcl_socs, &cfg->dcl_soc_fractions, soc, ip, true),
			 "SoC");
	if (tg->have_fets && !snap->discharge_fet)
		cand_add(&dc, 0.0, "BMS");

	tg->ccl_a =
		cand_min(&cc, cbase, out->charge_limitation, sizeof(out->charge_limitation) - 2);
	tg->dcl_a = cand_min(&dc, dbase, out->discharge_limitation,
			     sizeof(out->discharge_limitation) - 2);
}

/* ---- the cycle --------------------------------------------------------- */

void charge_state_init(struct charge_state *st)
{
	memset(st, 0, sizeof(*st));
}

static void mode_suffix(const struct charge_config *cfg, char *mode, size_t len)
{
	append(mode, len,
	       cfg->interpolation == CHARGE_INTERP_STEP ? MODE_SEP "Step Mode"
							: MODE_SEP "Linear Mode");
}

static const char *phase_name(const struct charge_state *st)
{
	if (!st->have_data)
		return "Init";
	switch (st->phase) {
	case CHARGE_PHASE_ABSORPTION:
		return "Absorption";
	case CHARGE_PHASE_FLOAT_TRANSITION:
		return "Float Transition";
	case CHARGE_PHASE_FLOAT:
		return "Float";
	default:
		return "Bulk";
	}
}

static void fill_cvl(const struct charge_config *cfg, const struct charge_state *st, bool lost,
		     struct charge_result *out)
{
	out->cvl_valid = st->cvl_set && !lost;
	out->cvl_v = st->cvl_set ? st->cvl_v + cfg->voltage_drop : 0.0;
	out->cvl_absorb_v = (st->absorb_set ? st->absorb_v : st->cvl_v) + cfg->voltage_drop;
	out->float_mode = st->float_mode;
}

/*
 * The DCL while the cell data are missing (age_ms: since the last good cells
 * were taken). Missing cell data alone must not switch an inverting system
 * off, but nobody knows where the cells go: the DCL is a fraction of the last
 * one computed from good cells, while those cells were in the safe window and
 * for at most discharge_grace. Outside the window it lasts until stale_after
 * (for a comms loss: not at all, the data only count as missing from then).
 */
static double dcl_hold(const struct charge_config *cfg, const struct charge_state *st,
		       uint64_t age_ms, const char **why)
{
	double age = (double)age_ms;
	if (!st->good_known) {
		*why = "";
		return 0.0;
	}
	/* grace 0 means "0 at stale_after", as for cells outside the window */
	if (age >= s_to_ms(fmax(cfg->discharge_grace, cfg->stale_after))) {
		*why = ", hold time over";
		return 0.0;
	}
	if (!st->good_in_window && age >= s_to_ms(cfg->stale_after)) {
		*why = ", cells outside hold window";
		return 0.0;
	}
	*why = ", held";
	return floor(cfg->discharge_hold_fraction * st->good_dcl_a * 1000.0 + 1e-6) / 1000.0;
}

/* "Cell 3" or "Cells 3, 5": the cells that are not measurements. */
static void name_cells(uint32_t bad, char *buf, size_t len)
{
	unsigned n = 0;
	for (unsigned i = 0; i < 32; i++)
		n += (bad >> i) & 1u;
	snprintf(buf, len, "%s", n > 1 ? "Cells" : "Cell");
	const char *sep = " ";
	for (unsigned i = 0; i < 32; i++) {
		if (!((bad >> i) & 1u))
			continue;
		char num[16];
		snprintf(num, sizeof(num), "%s%u", sep, i + 1);
		append(buf, len, num);
		sep = ", ";
	}
	append(buf, len, " Implausible");
}

/*
 * Cell data missing: no fresh snapshot (stale), no cell voltages, or a cell
 * that is not a measurement. Charging stops at once (CCL 0, from which it
 * recovers through hold and ramp); the DCL follows dcl_hold(), at most what
 * the last snapshot's other candidates allow (tg, NULL without a snapshot);
 * the CVL stands still.
 */
static void missing(const struct charge_config *cfg, const struct bms_snapshot *snap,
		    struct charge_state *st, uint64_t age_ms, bool lost, const char *why,
		    const struct targets *tg, struct charge_result *out)
{
	limiter_cut(&st->ccl);
	/* The DCL limiter is left as it was: when the cells return it goes on
	 * from its value before they went missing, at once, never from 0. The
	 * absorption timer must see the cells again to be trusted. */
	st->absorption_running = false;
	fill_cvl(cfg, st, lost, out);
	out->ccl_a = 0.0;
	out->allow_charge = false;
	const char *held;
	double d = dcl_hold(cfg, st, age_ms, &held);
	bool fets_off = tg && tg->have_fets && !snap->discharge_fet;
	if (tg && tg->dcl_a < d) {
		/* a fresh candidate is lower still: it is the reason */
		d = tg->dcl_a;
	} else {
		snprintf(out->discharge_limitation, sizeof(out->discharge_limitation), "%s%s", why,
			 held);
	}
	out->dcl_a = d;
	out->allow_discharge = d > 0 && !fets_off;
	if (snap && (snap->valid & BMS_V_CELLS))
		out->battery_low_voltage_v =
			(double)(to_mv(cfg->min_cell_voltage) * snap->cell_count) / 1000.0;
	snprintf(out->mode, sizeof(out->mode), "%s", phase_name(st));
	mode_suffix(cfg, out->mode, sizeof(out->mode));
	snprintf(out->charge_limitation, sizeof(out->charge_limitation), "%s", why);
}

void charge_step(const struct charge_config *cfg, const struct bms_snapshot *snap,
		 uint64_t data_age_ms, struct charge_state *st, uint64_t now_ms,
		 struct charge_result *out)
{
	memset(out, 0, sizeof(*out));
	st->last_now_ms = now_ms;

	if (!snap || data_age_ms == UINT64_MAX) {
		missing(cfg, NULL, st, UINT64_MAX, true, "No BMS Data", NULL, out);
		out->stale = true;
		return;
	}

	/* The fresh candidates (FETs, temperatures, ...) of the last snapshot
	 * bound the DCL even while its cells are missing or it is stale. */
	bms_stats_compute(snap, &out->stats);
	struct cells c;
	bool cells_ok = read_cells(&out->stats, &c);
	struct targets tg;
	targets(cfg, snap, cells_ok ? &c : NULL, &tg, out);

	bool stale = (double)data_age_ms >= s_to_ms(cfg->stale_after);
	bool lost = (double)data_age_ms >= s_to_ms(cfg->lost_after);
	if (stale || lost) {
		/* Missing at least as long as the snapshot is old, longer when its
		 * own cells were already bad. */
		uint64_t missing_ms = since(now_ms, st->good_ms);
		if (missing_ms < data_age_ms)
			missing_ms = data_age_ms;
		missing(cfg, snap, st, missing_ms, lost, "No BMS Data", &tg, out);
		out->stale = true;
		out->connected = !lost;
		out->bms_cable_alarm = 2;
		return;
	}
	out->connected = true;
	st->have_data = true;

	if (!cells_ok) {
		/* Without all cell voltages neither the CVL nor the cell tables can
		 * be computed. The CVL keeps its last value; a pack that never had
		 * one gets the configured target, from no cell at all. */
		if (!st->cvl_set && (snap->valid & BMS_V_CELLS) && c.count > 0) {
			st->cvl_v = (double)(to_mv(st->float_mode ? cfg->float_cell_voltage
								  : cfg->max_cell_voltage) *
					     c.count) /
				    1000.0;
			st->cvl_set = true;
			st->phase = st->float_mode ? CHARGE_PHASE_FLOAT : CHARGE_PHASE_BULK;
		}
		char why[128] = "No Cell Data";
		if (c.bad)
			name_cells(c.bad, why, sizeof(why));
		if (!st->good_known) {
			/* Bad cells from the first snapshot on: no good cells to hold
			 * from, so the hold starts from what the rest of this snapshot
			 * allows, outside the window (0 at stale_after): a broken sense
			 * wire must not switch an inverting system off at once. */
			st->good_known = true;
			st->good_ms = now_ms - (data_age_ms < now_ms ? data_age_ms : now_ms);
			st->good_dcl_a = tg.dcl_a;
			st->good_in_window = false;
		}
		missing(cfg, snap, st, since(now_ms, st->good_ms), false, why, &tg, out);
		return;
	}

	cvl_step(cfg, snap, &c, st, now_ms, out->mode, sizeof(out->mode));
	fill_cvl(cfg, st, false, out);
	out->battery_low_voltage_v = (double)(to_mv(cfg->min_cell_voltage) * c.count) / 1000.0;

	const struct limiter_cfg lc = {cfg->max_charge_current, cfg->ccl_recovery_threshold,
				       cfg->ccl_recovery_hold, cfg->ccl_recovery_rate};
	const struct limiter_cfg ld = {cfg->max_discharge_current, cfg->dcl_recovery_threshold,
				       cfg->dcl_recovery_hold, cfg->dcl_recovery_rate};
	if (limiter_step(&st->ccl, &lc, tg.ccl_a, now_ms))
		append(out->charge_limitation, sizeof(out->charge_limitation), " *");
	if (limiter_step(&st->dcl, &ld, tg.dcl_a, now_ms))
		append(out->discharge_limitation, sizeof(out->discharge_limitation), " *");

	out->ccl_a = st->ccl.value_a;
	out->dcl_a = st->dcl.value_a;
	out->allow_charge = out->ccl_a > 0 && (!tg.have_fets || snap->charge_fet);
	out->allow_discharge = out->dcl_a > 0 && (!tg.have_fets || snap->discharge_fet);
	mode_suffix(cfg, out->mode, sizeof(out->mode));

	/* What the discharge hold starts from if the cells go missing next. */
	st->good_known = true;
	st->good_ms = now_ms - (data_age_ms < now_ms ? data_age_ms : now_ms);
	st->good_dcl_a = st->dcl.value_a;
	st->good_in_window = c.min_mv > to_mv(cfg->discharge_hold_min_cell) &&
			     c.max_mv < to_mv(cfg->discharge_hold_max_cell);
}

/* ---- persistence -------------------------------------------------------- */

/*
 * Line-oriented "key=value" text. The age of the last full charge is written
 * in whole hours so the text changes at most hourly (the caller rewrites the
 * file only when the text changes); a restart loses under an hour of it plus
 * the downtime, which only delays the next full charge.
 */
int charge_state_format(const struct charge_state *st, char *buf, size_t len)
{
	char age[32] = "never";
	if (st->soc_reset_known) {
		int64_t d = (int64_t)st->last_now_ms - st->soc_reset_last_ms;
		snprintf(age, sizeof(age), "%" PRId64, d > 0 ? d / (int64_t)MS_PER_HOUR : 0);
	}
	int n = snprintf(
		buf, len,
		"# serialbattery charge state\nversion=1\nfloat=%d\nsoc_reset_requested=%d\n"
		"soc_reset_age_h=%s\n",
		st->float_mode ? 1 : 0, st->soc_reset_requested ? 1 : 0, age);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static int parse_bool(const char *v, bool *ret)
{
	if (strcmp(v, "0") == 0)
		*ret = false;
	else if (strcmp(v, "1") == 0)
		*ret = true;
	else
		return -EINVAL;
	return 0;
}

int charge_state_parse(struct charge_state *st, const char *text, uint64_t now_ms)
{
	struct charge_state t;
	charge_state_init(&t);
	t.last_now_ms = now_ms;
	bool version = false;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[128];
		if (n >= sizeof(line))
			goto bad;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (eol ? 1 : 0);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *eq = strchr(line, '=');
		if (!eq)
			goto bad;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (strcmp(k, "version") == 0) {
			if (strcmp(v, "1") != 0)
				goto bad;
			version = true;
		} else if (strcmp(k, "float") == 0) {
			if (parse_bool(v, &t.float_mode))
				goto bad;
		} else if (strcmp(k, "soc_reset_requested") == 0) {
			if (parse_bool(v, &t.soc_reset_requested))
				goto bad;
		} else if (strcmp(k, "soc_reset_age_h") == 0) {
			if (strcmp(v, "never") == 0) {
				t.soc_reset_known = false;
			} else {
				char *end;
				errno = 0;
				long long h = strtoll(v, &end, 10);
				if (errno || *end || end == v || h < 0 || h > 24LL * 366 * 100)
					goto bad;
				t.soc_reset_known = true;
				t.soc_reset_last_ms =
					(int64_t)now_ms - (int64_t)h * (int64_t)MS_PER_HOUR;
			}
		}
		/* Unknown keys: written by a newer version, ignored. */
	}
	if (!version)
		goto bad;
	*st = t;
	return 0;
bad:
	charge_state_init(st);
	st->last_now_ms = now_ms;
	return -EINVAL;
}
