/* SPDX-License-Identifier: MIT */
/*
 * The daemon's own SOC (charge/soc.c) on a fake clock: a scripted 24 h day
 * of a simulated 100 Ah 16s LFP pack (charge to full with a tail, discharge
 * to 20 %, a BMS whose current reads 3 % low with an offset and whose own SOC
 * drifts by 10 %), the full and empty resets at their conditions and not one
 * poll before, the current correction table, the gap rule, persistence and
 * the config checks. The figures of the day (SOC error at the end for "bms"
 * and "coulomb") are printed as "figure:" lines (bench/soc_figures.sh).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "charge/charge.h"
#include "charge/soc.h"
#include "charge_fixture.h"
#include "tests/support/cunit_main.h"

#define CELLS 16
#define CAP_AH 100.0
#define CELL_MAX 3.45 /* charge.max_cell_voltage default */
#define R_PACK 0.02   /* ohm */

/* The entry a pack with soc_source "coulomb" gets from the config table's defaults. */
static struct charge_soc_config soc_defaults(void)
{
	struct charge_config c = charge_test_defaults();
	static const struct cfg_section secs[] = {
		{.name = "charge",
		 .keys = charge_cfg_keys,
		 .offset = 0,
		 .validate = charge_config_validate},
		{NULL},
	};
	static const struct cfg_schema sch = {.sections = secs};
	struct cfg_error e;
	int r = cfg_load_string(&sch, &c, "charge = { soc = ( { soc_source = \"coulomb\"; } ); };",
				"test", &e);
	CU_ASSERT_FATAL(r == 0);
	CU_ASSERT_FATAL(c.nsoc == 1);
	return c.soc[0];
}

/* ---- the simulated pack ---- */

/* Open-circuit cell voltage of an LFP cell by SOC (%), piecewise linear. */
static double ocv(double soc)
{
	static const double s[] = {0, 5, 10, 20, 50, 90, 97, 99, 100};
	static const double v[] = {2.80, 3.00, 3.18, 3.24, 3.28, 3.32, 3.34, 3.38, 3.45};
	if (soc <= 0)
		return v[0];
	for (unsigned k = 1; k < sizeof(s) / sizeof(s[0]); k++)
		if (soc <= s[k])
			return v[k - 1] + (soc - s[k - 1]) * (v[k] - v[k - 1]) / (s[k] - s[k - 1]);
	return v[8];
}

/* The BMS's current reading: 3 % low, 0.1 A offset, some noise (deterministic). */
static unsigned lcg = 12345;
static double bms_reads(double true_a)
{
	lcg = lcg * 1103515245u + 12345u;
	double noise = ((double)(lcg >> 16 & 0x7fff) / 32767.0 - 0.5) * 0.6;
	return 0.97 * true_a + 0.1 + noise;
}

/* The correction an owner would measure for that BMS: the inverse of its error. */
static void set_correction(struct charge_soc_config *c)
{
	const double rep[] = {-100, 0, 100};
	c->current_reported.n = c->current_actual.n = 3;
	for (unsigned k = 0; k < 3; k++) {
		c->current_reported.v[k] = rep[k];
		c->current_actual.v[k] = (rep[k] - 0.1) / 0.97;
	}
}

struct day {
	double true_soc, bms_soc, soc;
	double true_at_full;    /* the pack's true SOC when the counter reset to 100 % */
	uint64_t full_at_ms;    /* when the counter reset to 100 %, 0 = never */
	uint64_t tail_since_ms; /* since when the full condition holds (seen from outside) */
	uint64_t held_ms;       /* how long it had held at the reset */
	unsigned full_events, empty_events, gaps;
};

/*
 * 24 h at a 1 s poll: 1 h rest at 50 %, charge at 50 A up to the CVL and on
 * at the CVL with the current tapering (the charger holds the CVL 3 h), then
 * a varying load down to 20 %, then rest with a 10 min comms gap. The BMS's
 * own SOC counts its own (wrong) current, starts 10 % high and drifts by a
 * further 10 % over the discharge (a cheap BMS: it never resets at full, it
 * only stops at 100).
 */
static void run_day(const struct charge_soc_config *cfg, struct day *d)
{
	const double cvl = CELL_MAX * CELLS;
	struct soc_state st;
	soc_state_init(&st);
	memset(d, 0, sizeof(*d));
	lcg = 12345;
	double s = 50.0, bms_count = 60.0, drift = 0;
	bool discharging = false, reached = false;
	uint64_t t0 = 1000000, t = t0;
	for (unsigned k = 0; k <= 86400; k++, t += 1000) {
		double hour = k / 3600.0;
		double i;
		bool charger = hour >= 1.0 && hour < 5.0;
		if (charger) {
			/* constant current, then constant voltage at the CVL */
			i = fmin(50.0, (cvl - ocv(s) * CELLS) / R_PACK);
		} else if (hour >= 5.0 && !reached) {
			discharging = true;
			i = (k / 600) % 2 ? -12.0 : -3.0; /* 10 min heavy, 10 min light */
			if (s <= 20.0)
				reached = true;
		} else if (reached) {
			i = 0; /* the system stops discharging at its minimum SOC */
		} else {
			i = -0.4; /* standby loads */
		}
		if (reached)
			discharging = false;
		if (discharging)
			drift += -i / 3600.0 / 80.0 * 10.0; /* 10 % over the 80 Ah discharge */
		double v = ocv(s) * CELLS + i * R_PACK;
		double meas = bms_reads(i);
		/* the BMS counts what it measures, kept within 0..100 */
		bms_count = fmin(100, fmax(0, bms_count + meas / 3600.0 / CAP_AH * 100.0));
		double cell = v / CELLS;
		/* the sample: 23:00 to 23:10 the link is down */
		bool link = !(hour >= 23.0 && hour < 23.0 + 10.0 / 60.0);
		if (link) {
			struct soc_input in = {
				.t_ms = t,
				.current_valid = true,
				.current_a = meas,
				.bms_soc_valid = true,
				.bms_soc_pct = fmin(100, bms_count + drift),
				.capacity_ah = CAP_AH,
				.voltage_valid = true,
				.voltage_v = v,
				.cells = CELLS,
				.cell_min_v = cell - 0.004,
				.cell_max_v = cell + 0.004,
				.cvl_valid = true,
				.cvl_v = cvl,
				.cell_target_v = CELL_MAX,
			};
			/* what the condition needs, seen from outside: for the "not before" check
			 */
			bool cond = meas <= cfg->tail_current + 0.5 && v >= cvl - 0.01 * CELLS;
			if (!cond)
				d->tail_since_ms = 0;
			else if (!d->tail_since_ms)
				d->tail_since_ms = t;
			unsigned ev = 0;
			CU_ASSERT_FATAL(soc_step(cfg, &in, &st, &ev) == 0);
			if ((ev & SOC_EV_FULL) && !d->full_at_ms) {
				d->full_at_ms = t;
				d->true_at_full = s;
				d->held_ms = d->tail_since_ms ? t - d->tail_since_ms : 0;
			}
		}
		/* the pack itself: what really flowed in this second */
		s = fmin(100, fmax(0, s + i / 3600.0 / CAP_AH * 100.0));
	}
	d->true_soc = s;
	d->bms_soc = fmin(100, bms_count + drift);
	d->soc = st.soc_pct;
	d->full_events = st.full_resets;
	d->empty_events = st.empty_resets;
	d->gaps = st.gaps;
}

static void test_day(void)
{
	struct charge_soc_config c = soc_defaults();
	set_correction(&c);
	struct day d;
	run_day(&c, &d);
	double err_bms = d.bms_soc - d.true_soc, err = d.soc - d.true_soc;
	printf("\nfigure: 24 h scenario, true SOC at the end %.2f %%\n", d.true_soc);
	printf("figure: soc_source \"bms\":     %.2f %% (error %+.2f %%)\n", d.bms_soc, err_bms);
	printf("figure: soc_source \"coulomb\": %.2f %% (error %+.2f %%) with the correction "
	       "table\n",
	       d.soc, err);
	CU_ASSERT(fabs(d.true_soc - 20.0) < 0.5); /* the scenario did what it says */
	CU_ASSERT(fabs(err) < 1.0);
	CU_ASSERT(fabs(err_bms) > 5.0); /* the drift the counter is there for */
	CU_ASSERT(d.full_events == 1);
	CU_ASSERT(d.empty_events == 0);
	CU_ASSERT(d.gaps == 1); /* the 10 min link loss, not counted */
	CU_ASSERT(d.full_at_ms != 0);
	/* not before: the condition (seen from outside, a little wider) held full_time */
	CU_ASSERT(d.held_ms >= 180000);
	CU_ASSERT(d.true_at_full > 99.5);
	printf("figure: full reset %.0f s after the tail condition began, true SOC then %.2f %%\n",
	       (double)d.held_ms / 1000.0, d.true_at_full);

	/* the same day without the table: the BMS's 3 % gain error remains */
	struct charge_soc_config raw = soc_defaults();
	struct day r;
	run_day(&raw, &r);
	printf("figure: soc_source \"coulomb\": %.2f %% (error %+.2f %%) without the table\n",
	       r.soc, r.soc - r.true_soc);
	CU_ASSERT(fabs(r.soc - r.true_soc) > fabs(err));
}

/* A sample at the CVL with current i (A), at t s. */
static struct soc_input at_cvl(double t_s, double i)
{
	struct soc_input in = {
		.t_ms = (uint64_t)(t_s * 1000.0),
		.current_valid = true,
		.current_a = i,
		.bms_soc_valid = true,
		.bms_soc_pct = 90.0,
		.capacity_ah = CAP_AH,
		.voltage_valid = true,
		.voltage_v = CELL_MAX * CELLS - 0.05,
		.cells = CELLS,
		.cell_min_v = 3.40,
		.cell_max_v = 3.43, /* not at the cell target: the pack voltage decides */
		.cvl_valid = true,
		.cvl_v = CELL_MAX * CELLS,
		.cell_target_v = CELL_MAX,
	};
	return in;
}

static void test_full_reset_not_before(void)
{
	struct charge_soc_config c = soc_defaults(); /* tail 5 A, 180 s */
	struct soc_state st;
	soc_state_init(&st);
	unsigned ev;
	/* above the tail: no timer */
	struct soc_input in = at_cvl(0, 20.0);
	CU_ASSERT(soc_step(&c, &in, &st, &ev) == 0 && ev == 0);
	CU_ASSERT(fabs(st.soc_pct - 90.0) < 1e-9);
	/* at the tail from t = 1 s; one break at 100 s restarts the time */
	double t = 1;
	for (; t < 100; t++) {
		in = at_cvl(t, 4.0);
		soc_step(&c, &in, &st, &ev);
		CU_ASSERT(ev == 0);
	}
	in = at_cvl(t++, 5.5);
	soc_step(&c, &in, &st, &ev);
	double start = t;
	for (; t < start + 180; t++) { /* 179 s: one poll short */
		in = at_cvl(t, 4.0);
		soc_step(&c, &in, &st, &ev);
		CU_ASSERT(ev == 0);
	}
	CU_ASSERT(st.soc_pct < 99.0);
	CU_ASSERT(st.full_resets == 0);
	in = at_cvl(t++, 4.0); /* 180 s */
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(ev == SOC_EV_FULL);
	CU_ASSERT(st.soc_pct == 100.0);
	/* held at 100 while the condition lasts, one event per episode */
	in = at_cvl(t++, -2.0);
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(ev == 0 && st.soc_pct == 100.0 && st.full_resets == 1);

	/* below the charge voltage nothing counts as full, however long */
	soc_state_init(&st);
	for (t = 0; t < 1000; t++) {
		in = at_cvl(t, 1.0);
		in.voltage_v = CELL_MAX * CELLS - 0.2; /* 12.5 mV a cell below */
		soc_step(&c, &in, &st, &ev);
	}
	CU_ASSERT(st.full_resets == 0);
	/* the highest cell at its target counts as at the charge voltage */
	for (double u = t; u < t + 181; u++) {
		in = at_cvl(u, 1.0);
		in.voltage_v = CELL_MAX * CELLS - 0.2;
		in.cell_max_v = CELL_MAX - 0.005;
		soc_step(&c, &in, &st, &ev);
	}
	CU_ASSERT(st.full_resets == 1 && st.soc_pct == 100.0);
}

static void test_empty_reset(void)
{
	struct charge_soc_config c = soc_defaults(); /* 2.9 V, 60 s */
	struct soc_state st;
	soc_state_init(&st);
	unsigned ev;
	struct soc_input in = at_cvl(0, -10.0);
	in.voltage_v = 47.0;
	in.cvl_valid = false;
	in.cell_max_v = 2.95;
	in.cell_min_v = 2.95;
	in.bms_soc_pct = 12.0;
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(fabs(st.soc_pct - 12.0) < 1e-9);
	/* a dip for 30 s, back up, then 60 s at the empty voltage */
	double t = 1;
	for (; t < 31; t++) {
		in.t_ms = (uint64_t)t * 1000;
		in.cell_min_v = 2.88;
		soc_step(&c, &in, &st, &ev);
		CU_ASSERT(ev == 0);
	}
	in.t_ms = (uint64_t)t++ * 1000;
	in.cell_min_v = 2.95;
	soc_step(&c, &in, &st, &ev);
	double start = t;
	for (; t < start + 60; t++) {
		in.t_ms = (uint64_t)t * 1000;
		in.cell_min_v = 2.90; /* at the limit counts */
		soc_step(&c, &in, &st, &ev);
		CU_ASSERT(ev == 0);
	}
	CU_ASSERT(st.soc_pct > 10.0);
	in.t_ms = (uint64_t)t++ * 1000;
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(ev == SOC_EV_EMPTY);
	CU_ASSERT(st.soc_pct == 0.0);
	CU_ASSERT(st.empty_resets == 1);
	/* charging again counts up from 0 */
	for (int k = 0; k < 360; k++) {
		in.t_ms = (uint64_t)t++ * 1000;
		in.current_a = 10.0;
		in.cell_min_v = 3.0;
		soc_step(&c, &in, &st, &ev);
	}
	CU_ASSERT(fabs(st.soc_pct - 1.0) < 0.01); /* 10 A x 0.1 h = 1 Ah of 100 */
}

static void test_correction_table(void)
{
	struct charge_soc_config c = soc_defaults();
	CU_ASSERT(soc_correct_current(&c, 12.5) == 12.5); /* empty: identity */
	const double rep[] = {-100, 0, 100}, act[] = {-110, 0, 105};
	c.current_reported.n = c.current_actual.n = 3;
	memcpy(c.current_reported.v, rep, sizeof(rep));
	memcpy(c.current_actual.v, act, sizeof(act));
	CU_ASSERT(fabs(soc_correct_current(&c, -50) + 55) < 1e-9);
	CU_ASSERT(fabs(soc_correct_current(&c, 50) - 52.5) < 1e-9);
	CU_ASSERT(fabs(soc_correct_current(&c, 0)) < 1e-9);
	/* beyond the ends along the end segments, not clamped to them */
	CU_ASSERT(fabs(soc_correct_current(&c, 200) - 210) < 1e-9);
	CU_ASSERT(fabs(soc_correct_current(&c, -200) + 220) < 1e-9);

	/* counting uses it: 20 A reported for 360 s is 21 A true, 2.1 Ah */
	struct soc_state st;
	soc_state_init(&st);
	struct soc_input in = at_cvl(0, 20.0);
	in.voltage_v = 50;
	in.bms_soc_pct = 50;
	for (int k = 0; k <= 360; k++) {
		in.t_ms = (uint64_t)k * 1000;
		soc_step(&c, &in, &st, NULL);
	}
	CU_ASSERT(fabs(st.soc_pct - 52.1) < 1e-6);
}

static void test_gap(void)
{
	struct charge_soc_config c = soc_defaults(); /* max_gap 30 s */
	struct soc_state st;
	soc_state_init(&st);
	unsigned ev;
	struct soc_input in = at_cvl(0, -36.0);
	in.voltage_v = 50;
	in.bms_soc_pct = 50;
	soc_step(&c, &in, &st, &ev);
	/* 30 s apart: counted (36 A x 30 s = 0.3 Ah) */
	in.t_ms = 30000;
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(ev == 0);
	CU_ASSERT(fabs(st.soc_pct - 49.7) < 1e-9);
	/* 31 s apart: a gap, nothing counted for it; the next interval counts again */
	in.t_ms = 61000;
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(ev == SOC_EV_GAP);
	CU_ASSERT(fabs(st.soc_pct - 49.7) < 1e-9);
	CU_ASSERT(st.gaps == 1);
	in.t_ms = 71000;
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(ev == 0);
	CU_ASSERT(fabs(st.soc_pct - 49.6) < 1e-9);
	/* a reading without current is no sample: the interval runs from the last one */
	in.t_ms = 81000;
	in.current_valid = false;
	soc_step(&c, &in, &st, &ev);
	in.t_ms = 91000;
	in.current_valid = true;
	soc_step(&c, &in, &st, &ev);
	CU_ASSERT(fabs(st.soc_pct - 49.4) < 1e-9);
	/* no capacity from anywhere: nothing computed */
	in.capacity_ah = 0;
	CU_ASSERT(soc_step(&c, &in, &st, &ev) == -ENODATA);
}

static void test_start_and_persist(void)
{
	struct charge_soc_config c = soc_defaults();
	struct soc_state st;
	soc_state_init(&st);
	char buf[64];
	CU_ASSERT(soc_state_format(&st, buf, sizeof(buf)) == -ENODATA);
	/* without a saved value and a BMS SOC: 100 % */
	struct soc_input in = at_cvl(0, 0);
	in.bms_soc_valid = false;
	in.voltage_v = 50;
	soc_step(&c, &in, &st, NULL);
	CU_ASSERT(st.soc_pct == 100.0);
	st.soc_pct = 63.456;
	CU_ASSERT(soc_state_format(&st, buf, sizeof(buf)) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "soc=63.46\n");
	/* a saved value wins over the BMS's */
	struct soc_state back;
	soc_state_init(&back);
	CU_ASSERT(soc_state_parse(&back, buf) == 0);
	in.bms_soc_valid = true;
	in.bms_soc_pct = 20;
	soc_step(&c, &in, &back, NULL);
	CU_ASSERT(fabs(back.soc_pct - 63.46) < 1e-9);
	struct soc_state bad;
	soc_state_init(&bad);
	CU_ASSERT(soc_state_parse(&bad, "soc=101\n") == -EINVAL);
	CU_ASSERT(soc_state_parse(&bad, "soc=x\n") == -EINVAL);
	CU_ASSERT(soc_state_parse(&bad, "") == -EINVAL);
	CU_ASSERT(!bad.started);
}

/* A config text's first error, formatted. */
static int load(const char *text, struct charge_config *c, char *msg, size_t len)
{
	static const struct cfg_section secs[] = {
		{.name = "charge",
		 .keys = charge_cfg_keys,
		 .offset = 0,
		 .validate = charge_config_validate},
		{NULL},
	};
	static const struct cfg_schema sch = {.sections = secs};
	struct cfg_error e;
	memset(&e, 0, sizeof(e));
	int r = cfg_load_string(&sch, c, text, "soc.conf", &e);
	msg[0] = 0;
	if (r < 0)
		cfg_error_format(&e, msg, len);
	return r;
}

static void expect_error(const char *text, const char *want)
{
	struct charge_config c;
	char msg[800];
	CU_ASSERT(load(text, &c, msg, sizeof(msg)) == -EINVAL);
	CU_ASSERT(strstr(msg, want) != NULL);
	if (!strstr(msg, want))
		fprintf(stderr, "\ngot '%s', want '%s'\n", msg, want);
}

static void test_config(void)
{
	struct charge_config c;
	char msg[800];
	CU_ASSERT_FATAL(
		load("charge = {\n"
		     "  soc = (\n"
		     "    { pack = \"ttyUSB0\"; soc_source = \"coulomb\"; capacity = 280.0; },\n"
		     "    { soc_source = \"service:com.victronenergy.battery.ttyS2\"; }\n"
		     "  );\n"
		     "};\n",
		     &c, msg, sizeof(msg)) == 0);
	CU_ASSERT(c.nsoc == 2);
	const char *svc = NULL;
	const struct charge_soc_config *e = charge_soc_find(&c, "usb-x", "ttyUSB0", "usb_x");
	CU_ASSERT(e == &c.soc[0]);
	CU_ASSERT(charge_soc_source_of(e, &svc) == CHARGE_SOC_COULOMB && !svc);
	CU_ASSERT(e->capacity == 280.0 && e->tail_current == 5.0 && !e->write_back);
	e = charge_soc_find(&c, "usb-y", "ttyUSB1", "usb_y");
	CU_ASSERT(e == &c.soc[1]);
	CU_ASSERT(charge_soc_source_of(e, &svc) == CHARGE_SOC_SERVICE);
	CU_ASSERT(svc && strcmp(svc, "com.victronenergy.battery.ttyS2") == 0);
	/* no entry: the BMS's SOC */
	CU_ASSERT_FATAL(load("", &c, msg, sizeof(msg)) == 0);
	CU_ASSERT(charge_soc_find(&c, "k", "ttyUSB0", "k") == NULL);
	CU_ASSERT(charge_soc_source_of(NULL, &svc) == CHARGE_SOC_BMS);

	/* bad values name file, line and key */
	expect_error("charge = {\n soc = (\n  { soc_source = \"shunt\"; }\n );\n};\n",
		     "soc.conf:3: charge.soc[0].soc_source: 'shunt': must be");
	expect_error(
		"charge = {\n soc = (\n  { soc_source = \"service:org.example.x\"; }\n );\n};\n",
		"soc.conf:3: charge.soc[0].soc_source: 'service:org.example.x'");
	expect_error(
		"charge = {\n soc = (\n  { soc_source = \"service:com.victronenergy.battery.\"; "
		"}\n );\n};\n",
		"charge.soc[0].soc_source");
	expect_error("charge = {\n soc = (\n  { soc_source = "
		     "\"service:com.victronenergy.battery.a..b\"; }\n );\n};\n",
		     "not a valid D-Bus service name");
	expect_error(
		"charge = {\n soc = (\n  { soc_source = \"coulomb\";\n"
		"    current_reported = [0.0, 10.0];\n    current_actual = [0.0];\n  }\n );\n};\n",
		"soc.conf:5: charge.soc[0].current_actual: must have as many");
	expect_error("charge = {\n soc = (\n  { soc_source = \"coulomb\";\n"
		     "    current_reported = [10.0, 0.0];\n    current_actual = [1.0, 0.0];\n  }\n "
		     ");\n};\n",
		     "soc.conf:4: charge.soc[0].current_reported: must be strictly ascending");
	expect_error("charge = {\n soc = (\n  { pack = \"a\"; },\n  { pack = \"a\"; }\n );\n};\n",
		     "soc.conf:4: charge.soc[1].pack: 'a' already has an entry");
	expect_error("charge = {\n soc = (\n  { tail_current = -1.0; }\n );\n};\n",
		     "soc.conf:3: charge.soc[0].tail_current");
	expect_error("charge = {\n soc = (\n  { empty_cell_voltage = 3.5; }\n );\n};\n",
		     "charge.soc[0].empty_cell_voltage: must be below max_cell_voltage");
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"24 h scenario", test_day},
		{"full reset at its condition, not before", test_full_reset_not_before},
		{"empty reset", test_empty_reset},
		{"correction table", test_correction_table},
		{"gap rule", test_gap},
		{"start value and persistence", test_start_and_persist},
		{"config", test_config},
		{NULL, NULL},
	};
	return sb_add_suite("soc", tests);
}
