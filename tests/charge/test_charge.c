/* SPDX-License-Identifier: MIT */
/*
 * Charge control: every rule at and around its boundaries (tables of cases),
 * the recovery and comms-loss sequences with explicit times, restart in
 * float, and properties over random inputs (seeded, so a failure repeats).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charge/charge.h"
#include "tests/charge/charge_fixture.h"
#include "tests/support/cunit_main.h"

#define S(x) ((uint64_t)((x)*1000.0)) /* seconds -> ms */
#define EPS 1e-6

/* n cells at v volts, 25 degC, SOC 50 %, FETs on. */
static struct bms_snapshot pack(unsigned n, double v)
{
	struct bms_snapshot s;
	memset(&s, 0, sizeof(s));
	s.valid = BMS_V_CELLS | BMS_V_TEMPS | BMS_V_SOC | BMS_V_FETS | BMS_V_MOSFET_TEMP;
	s.cell_count = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		s.cell_mv[i] = (uint16_t)lround(v * 1000);
	s.temp_count = 2;
	s.temp_dc[0] = s.temp_dc[1] = 250;
	s.mosfet_temp_dc = 300;
	s.soc_cpct = 5000;
	s.charge_fet = s.discharge_fet = true;
	return s;
}

/* A state whose limits are far above any target, so the next step shows the
 * target itself (reductions apply at once). */
static struct charge_state primed(void)
{
	struct charge_state st;
	charge_state_init(&st);
	st.ccl.value_a = st.dcl.value_a = 1e9;
	return st;
}

static struct charge_result once(const struct charge_config *c, const struct bms_snapshot *s)
{
	struct charge_state st = primed();
	struct charge_result r;
	charge_step(c, s, 0, &st, S(1000), &r);
	return r;
}

/* ---- config ---------------------------------------------------------- */

static void test_defaults(void)
{
	struct charge_config c = charge_test_defaults();
	struct cfg_invalid err;
	CU_ASSERT_EQUAL(charge_config_validate(&c, &err), 0);
	CU_ASSERT_DOUBLE_EQUAL(c.max_charge_current, 50.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.max_discharge_current, 60.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.max_cell_voltage, 3.45, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.float_cell_voltage, 3.375, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.min_cell_voltage, 2.9, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.stale_after, 10.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.lost_after, 60.0, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.discharge_hold_fraction, 0.5, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.discharge_hold_min_cell, 3.225, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.discharge_hold_max_cell, 3.375, EPS);
	CU_ASSERT_DOUBLE_EQUAL(c.discharge_grace, 1800.0, EPS);
	CU_ASSERT_EQUAL(c.ccl_temperatures.n, 8);
	CU_ASSERT_EQUAL(c.interpolation, CHARGE_INTERP_LINEAR);
}

static void test_validate(void)
{
	struct charge_config c;
	struct cfg_invalid err;
#define BAD(name, stmt)                                                                            \
	do {                                                                                       \
		c = charge_test_defaults();                                                        \
		stmt;                                                                              \
		err.key[0] = '\0';                                                                 \
		CU_ASSERT(charge_config_validate(&c, &err) < 0);                                   \
		CU_ASSERT_STRING_EQUAL(err.key, name);                                             \
	} while (0)
#define GOOD(stmt)                                                                                 \
	do {                                                                                       \
		c = charge_test_defaults();                                                        \
		stmt;                                                                              \
		CU_ASSERT(charge_config_validate(&c, &err) == 0);                                  \
	} while (0)
	BAD("float_cell_voltage", c.float_cell_voltage = 3.46);
	GOOD(c.float_cell_voltage = 3.45);
	BAD("float_cell_voltage", c.float_cell_voltage = 2.89);
	BAD("min_cell_voltage", c.min_cell_voltage = 3.45);
	BAD("soc_reset_cell_voltage", c.soc_reset_cell_voltage = 3.44);
	GOOD(c.soc_reset_cell_voltage = 3.45);
	BAD("lost_after", c.lost_after = 9.9);
	GOOD(c.lost_after = 10.0);
	BAD("discharge_hold_min_cell", c.discharge_hold_min_cell = 3.375);
	GOOD(c.discharge_hold_min_cell = 3.374);
	BAD("ccl_temperature_fractions", c.ccl_temperature_fractions.n = 7);
	BAD("ccl_temperatures", c.ccl_temperatures.v[3] = 1.0);
	BAD("ccl_temperatures", c.ccl_temperatures.v[4] = 10.0);
	BAD("dcl_soc_fractions", c.dcl_soc_fractions.v[3] = 0.9);
	BAD("ccl_socs", c.ccl_socs.n = 0);
	/* descending and ascending are both fine */
	GOOD({
		c.ccl_mosfet_temperatures.v[0] = 90;
		c.ccl_mosfet_temperatures.v[2] = 70;
		c.ccl_mosfet_temperature_fractions.v[0] = 0;
		c.ccl_mosfet_temperature_fractions.v[2] = 1;
	});
	/* 0 A below the absorption voltage: float would never come */
	BAD("ccl_cell_voltages", c.ccl_cell_voltages.v[1] = 3.44;
	    c.ccl_cell_voltage_fractions.v[1] = 0);
	GOOD(c.ccl_cell_voltage_enable = false; c.ccl_cell_voltages.v[1] = 3.44;
	     c.ccl_cell_voltage_fractions.v[1] = 0);
	BAD("dcl_cell_voltages", c.dcl_cell_voltages.v[0] = 2.95);
#undef BAD
#undef GOOD
}

/* ---- current tables -------------------------------------------------- */

struct cell_case {
	double cell;         /* V, all cells */
	double linear, step; /* expected limit, A */
};

static void test_ccl_cell_voltage(void)
{
	static const struct cell_case cases[] = {
		{3.300, 50, 50},     {3.375, 50, 50},      {3.388, 30.5, 50},    {3.399, 14, 50},
		{3.400, 12.5, 12.5}, {3.410, 8.5, 12.5},   {3.425, 2.5, 2.5},    {3.449, 0.34, 2.5},
		{3.450, 0.25, 0.25}, {3.475, 0.125, 0.25}, {3.499, 0.005, 0.25}, {3.500, 0, 0},
		{3.700, 0, 0},
	};
	struct charge_config c = charge_test_defaults();
	c.ccl_temperature_enable = c.ccl_mosfet_temperature_enable = false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bms_snapshot s = pack(16, 3.3);
		s.cell_mv[5] = (uint16_t)lround(cases[i].cell * 1000);
		c.interpolation = CHARGE_INTERP_LINEAR;
		struct charge_result r = once(&c, &s);
		if (fabs(r.ccl_a - cases[i].linear) > 1e-3)
			fprintf(stderr, "\nlinear %.3f V: %.4f A, want %.4f\n", cases[i].cell,
				r.ccl_a, cases[i].linear);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, cases[i].linear, 1e-3);
		CU_ASSERT_STRING_EQUAL(r.charge_limitation, cases[i].linear < 50
								    ? "Cell Voltage"
								    : "Max Battery Charge Current");
		c.interpolation = CHARGE_INTERP_STEP;
		r = once(&c, &s);
		if (fabs(r.ccl_a - cases[i].step) > 1e-3)
			fprintf(stderr, "\nstep %.3f V: %.4f A, want %.4f\n", cases[i].cell,
				r.ccl_a, cases[i].step);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, cases[i].step, 1e-3);
		CU_ASSERT(strstr(r.mode, "Step Mode") != NULL);
	}
}

static void test_dcl_cell_voltage(void)
{
	static const struct cell_case cases[] = {
		/* step: at a breakpoint the lower of the two steps that meet there */
		{3.300, 60, 60},   {3.190, 60, 60},     {3.189, 59.5, 60},  {3.145, 37.5, 60},
		{3.101, 15.5, 60}, {3.100, 15, 15},     {3.099, 14.88, 15}, {3.050, 9, 15},
		{3.001, 3.12, 15}, {3.000, 3, 3},       {2.999, 2.973, 3},  {2.901, 0.327, 3},
		{2.900, 0.3, 0.3}, {2.899, 0.297, 0.3}, {2.850, 0.15, 0.3}, {2.801, 0.003, 0.3},
		{2.800, 0, 0},     {2.799, 0, 0},       {2.500, 0, 0},
	};
	struct charge_config c = charge_test_defaults();
	c.dcl_temperature_enable = c.dcl_mosfet_temperature_enable = false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bms_snapshot s = pack(8, 3.3);
		s.cell_mv[2] = (uint16_t)lround(cases[i].cell * 1000);
		c.interpolation = CHARGE_INTERP_LINEAR;
		struct charge_result r = once(&c, &s);
		if (fabs(r.dcl_a - cases[i].linear) > 1e-3)
			fprintf(stderr, "\nlinear %.3f V: %.4f A, want %.4f\n", cases[i].cell,
				r.dcl_a, cases[i].linear);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, cases[i].linear, 1e-3);
		CU_ASSERT_EQUAL(r.allow_discharge, cases[i].linear > 0);
		c.interpolation = CHARGE_INTERP_STEP;
		r = once(&c, &s);
		if (fabs(r.dcl_a - cases[i].step) > 1e-3)
			fprintf(stderr, "\nstep %.3f V: %.4f A, want %.4f\n", cases[i].cell,
				r.dcl_a, cases[i].step);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, cases[i].step, 1e-3);
	}
}

struct temp_case {
	int16_t t1, t2; /* 0.1 degC */
	double ccl_lin, ccl_step, dcl_lin, dcl_step;
};

static void test_temperature(void)
{
	static const struct temp_case cases[] = {
		{250, 250, 50, 50, 60, 60},
		{-1, 250, 0, 0, 7.5 * 1.98, 15},   /* -0.1 degC: no charge */
		{0, 250, 0, 0, 15, 15},            /* 0 degC exactly: still no charge */
		{10, 250, 6.25, 0, 18, 30},        /* 1 degC */
		{20, 250, 12.5, 0, 21, 30},        /* 2 degC: step, the lower of 0 and 12.5 */
		{21, 250, 12.916, 12.5, 21.3, 30}, /* 2.1 degC */
		{-100, 250, 0, 0, 0, 0},           /* -10 degC: 0, as just below it */
		{-99, 250, 0, 0, 0.15, 15},        /* -9.9 degC */
		{100, 250, 50, 25, 60, 60},        /* 10 degC: CCL step, the lower of 25 and 50 */
		{400, 250, 50, 50, 60, 30},        /* 40 degC: DCL step, the lower of 60 and 30 */
		{-200, -200, 0, 0, 0, 0},
		{250, 475, 18.75, 25, 22.5, 15}, /* 47.5 degC */
		{250, 550, 0, 0, 0, 0},          /* 55 degC */
		{250, 700, 0, 0, 0, 0},
	};
	struct charge_config c = charge_test_defaults();
	c.ccl_cell_voltage_enable = c.dcl_cell_voltage_enable = false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bms_snapshot s = pack(4, 3.3);
		s.temp_dc[0] = cases[i].t1;
		s.temp_dc[1] = cases[i].t2;
		for (int m = 0; m < 2; m++) {
			c.interpolation = m;
			struct charge_result r = once(&c, &s);
			double wc = m ? cases[i].ccl_step : cases[i].ccl_lin;
			double wd = m ? cases[i].dcl_step : cases[i].dcl_lin;
			if (fabs(r.ccl_a - wc) > 1e-3 || fabs(r.dcl_a - wd) > 1e-3)
				fprintf(stderr,
					"\ncase %zu mode %d: ccl %.4f want %.4f, dcl %.4f want "
					"%.4f\n",
					i, m, r.ccl_a, wc, r.dcl_a, wd);
			CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, wc, 1e-3);
			CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, wd, 1e-3);
			if (wc < 50)
				CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Temp");
			CU_ASSERT_EQUAL(r.allow_charge, wc > 0);
		}
	}
	/* no sensor: no temperature limit (the BMS protects itself) */
	struct bms_snapshot s = pack(4, 3.3);
	s.valid &= ~(uint32_t)BMS_V_TEMPS;
	s.temp_dc[0] = -300;
	CU_ASSERT_DOUBLE_EQUAL(once(&c, &s).ccl_a, 50, EPS);
}

static void test_mosfet_soc_bms(void)
{
	struct charge_config c = charge_test_defaults();
	struct bms_snapshot s = pack(4, 3.3);
	static const struct {
		int16_t t;
		double lin, step;
	} mos[] = {{300, 50, 50},     {700, 50, 50}, {750, 31.25, 50}, {800, 12.5, 12.5},
		   {850, 6.25, 12.5}, {900, 0, 0},   {1200, 0, 0}};
	for (size_t i = 0; i < sizeof(mos) / sizeof(mos[0]); i++) {
		s.mosfet_temp_dc = mos[i].t;
		c.interpolation = CHARGE_INTERP_LINEAR;
		struct charge_result r = once(&c, &s);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, mos[i].lin, 1e-3);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, mos[i].lin * 1.2, 1e-3);
		if (mos[i].lin < 50)
			CU_ASSERT_STRING_EQUAL(r.charge_limitation, "MOSFET Temp");
		c.interpolation = CHARGE_INTERP_STEP;
		r = once(&c, &s);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, mos[i].step, 1e-3);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, mos[i].step * 1.2, 1e-3); /* same variant for DCL */
	}
	s.mosfet_temp_dc = 300;

	/* SOC tables are off by default */
	s.soc_cpct = 9900;
	c.interpolation = CHARGE_INTERP_LINEAR;
	CU_ASSERT_DOUBLE_EQUAL(once(&c, &s).ccl_a, 50, EPS);
	c.ccl_soc_enable = c.dcl_soc_enable = true;
	static const struct {
		uint16_t soc;
		double ccl_lin, ccl_step, dcl_lin, dcl_step;
	} socs[] = {{9900, 5, 5, 60, 60},   {9800, 5, 5, 60, 60},   {9200, 19, 10, 60, 60},
		    {9000, 25, 10, 60, 60}, {8500, 50, 25, 60, 60}, {5000, 50, 50, 60, 60},
		    {1750, 50, 50, 45, 60}, {1000, 50, 50, 12, 12}, {1001, 50, 50, 12.036, 30},
		    {500, 50, 50, 6, 6},    {400, 50, 50, 6, 6}};
	for (size_t i = 0; i < sizeof(socs) / sizeof(socs[0]); i++) {
		s.soc_cpct = socs[i].soc;
		c.interpolation = CHARGE_INTERP_LINEAR;
		struct charge_result r = once(&c, &s);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, socs[i].ccl_lin, 1e-3);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, socs[i].dcl_lin, 1e-3);
		if (socs[i].ccl_lin < 50)
			CU_ASSERT_STRING_EQUAL(r.charge_limitation, "SoC");
		c.interpolation = CHARGE_INTERP_STEP;
		r = once(&c, &s);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, socs[i].ccl_step, 1e-3);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, socs[i].dcl_step, 1e-3);
	}
	c = charge_test_defaults();
	s = pack(4, 3.3);

	/* the BMS's own limits, only when lower */
	s.valid |= BMS_V_MAX_CHARGE_I | BMS_V_MAX_DISCHARGE_I;
	s.max_charge_ma = 30000;
	s.max_discharge_ma = 100000;
	struct charge_result r = once(&c, &s);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 30, EPS);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "BMS Settings");
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "Max Battery Discharge Current");
	s.max_charge_ma = 50000; /* equal: only lower BMS limits count */
	r = once(&c, &s);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Max Battery Charge Current");
	c.use_bms_current_limits = false;
	s.max_charge_ma = 10000;
	CU_ASSERT_DOUBLE_EQUAL(once(&c, &s).ccl_a, 50, EPS);
	c.use_bms_current_limits = true;

	/* FET off: 0 and not allowed */
	s = pack(4, 3.3);
	s.charge_fet = false;
	r = once(&c, &s);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS);
	CU_ASSERT_FALSE(r.allow_charge);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "BMS");
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT_TRUE(r.allow_discharge);
	s.charge_fet = true;
	s.discharge_fet = false;
	r = once(&c, &s);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 0, EPS);
	CU_ASSERT_FALSE(r.allow_discharge);
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "BMS");

	/* two limits at the same value: both named */
	s = pack(4, 3.4);       /* cell table: 12.5 A */
	s.mosfet_temp_dc = 800; /* MOSFET table: 12.5 A */
	r = once(&c, &s);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cell Voltage, MOSFET Temp");
}

/* ---- recovery hold and ramp ---------------------------------------- */

static void test_recovery(void)
{
	struct charge_config c = charge_test_defaults();
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.3);
	/* start-up: the first snapshot's limits at once, nothing to recover from */
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT(r.allow_charge && r.allow_discharge);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Max Battery Charge Current");
	/* a reduction to 0 while running: the rise holds 30 s, then 5 A/s */
	s.cell_mv[0] = 3500;
	charge_step(&c, &s, 0, &st, S(1), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS);
	s.cell_mv[0] = 3300;
	static const struct {
		double t, ccl;
		bool star;
	} seq[] = {{2, 0, true},       {10, 0, true},   {31.999, 0, true},
		   {32, 0, true},      {33, 5, true},   {37.5, 27.5, true},
		   {41.9, 49.5, true}, {42, 50, false}, {100, 50, false}};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		charge_step(&c, &s, 0, &st, S(seq[i].t), &r);
		if (fabs(r.ccl_a - seq[i].ccl) > 1e-6)
			fprintf(stderr, "\nt=%.3f ccl %.4f want %.4f\n", seq[i].t, r.ccl_a,
				seq[i].ccl);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, seq[i].ccl, 1e-6);
		CU_ASSERT_EQUAL(strstr(r.charge_limitation, " *") != NULL, seq[i].star);
		CU_ASSERT_EQUAL(r.allow_charge, seq[i].ccl > 0);
	}
	/* the DCL was never reduced */
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);

	/* reduction at once, no lag */
	s.cell_mv[0] = 3400;
	charge_step(&c, &s, 0, &st, S(101), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 12.5, EPS);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cell Voltage");
	/* small reduction: also at once */
	s.cell_mv[0] = 3401;
	charge_step(&c, &s, 0, &st, S(102), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 12.1, 1e-3);
	/* rise: held 30 s at the lower value, then ramps */
	s.cell_mv[0] = 3300;
	charge_step(&c, &s, 0, &st, S(103), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 12.1, 1e-3);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Max Battery Charge Current *");
	charge_step(&c, &s, 0, &st, S(132.9), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 12.1, 1e-3);
	charge_step(&c, &s, 0, &st, S(135), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 12.1 + 10, 1e-3);
	/* a reduction during the ramp applies at once and cancels it */
	s.cell_mv[0] = 3425;
	charge_step(&c, &s, 0, &st, S(136), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 2.5, 1e-6);

	/* from 0 the target must exceed the threshold (1.5 % of 50 A = 0.75 A) */
	s.cell_mv[0] = 3500;
	charge_step(&c, &s, 0, &st, S(200), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS);
	CU_ASSERT_FALSE(r.allow_charge);
	s.cell_mv[0] = 3450; /* 0.25 A: below threshold, stays 0 forever */
	for (int t = 201; t < 1000; t += 50) {
		charge_step(&c, &s, 0, &st, S(t), &r);
		CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS);
		CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cell Voltage *");
	}
	s.cell_mv[0] = 3440; /* 0.25 + 0.4 * 2.25 = 1.15 A > 0.75 A: hold, then ramp */
	charge_step(&c, &s, 0, &st, S(1000), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS);
	charge_step(&c, &s, 0, &st, S(1029), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS);
	charge_step(&c, &s, 0, &st, S(1031), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 1.15, 1e-3);

	/* rate 0: straight to the target after the hold */
	c.ccl_recovery_rate = 0;
	charge_state_init(&st);
	s = pack(16, 3.3);
	s.cell_mv[3] = 3500;
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS); /* computed 0: the first value, at once */
	s.cell_mv[3] = 3300;
	charge_step(&c, &s, 0, &st, S(1), &r);
	charge_step(&c, &s, 0, &st, S(30.999), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 0, EPS);
	charge_step(&c, &s, 0, &st, S(31), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);
}

/* ---- CVL -------------------------------------------------------------- */

static void set_all(struct bms_snapshot *s, double v)
{
	for (unsigned i = 0; i < s->cell_count; i++)
		s->cell_mv[i] = (uint16_t)lround(v * 1000);
}

static void test_cvl_phases(void)
{
	struct charge_config c = charge_test_defaults();
	c.cvl_controller = CHARGE_CVL_CTRL_OFF;
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.30);
	s.soc_cpct = 9500;

	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT(r.cvl_valid);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.battery_low_voltage_v, 46.4, EPS);
	CU_ASSERT_STRING_EQUAL(r.mode, "Bulk \xe2\x94\x82 Linear Mode");

	/* sum 1 mV short: no timer */
	set_all(&s, 3.45);
	s.cell_mv[3] = 3449;
	charge_step(&c, &s, 0, &st, S(10), &r);
	CU_ASSERT(strncmp(r.mode, "Bulk", 4) == 0);
	/* at the target but spread 11 mV: no timer */
	s.cell_mv[3] = 3444;
	s.cell_mv[4] = 3455;
	s.cell_mv[5] = 3451;
	charge_step(&c, &s, 0, &st, S(20), &r);
	CU_ASSERT(strncmp(r.mode, "Bulk", 4) == 0);
	/* spread 10 mV, sum at the target: absorption starts */
	s.cell_mv[3] = 3445;
	s.cell_mv[4] = 3455;
	s.cell_mv[5] = 3450;
	charge_step(&c, &s, 0, &st, S(100), &r);
	CU_ASSERT(strncmp(r.mode, "Absorption", 10) == 0);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	/* spread 13 mV (10 + 3): the timer keeps running */
	s.cell_mv[3] = 3444;
	s.cell_mv[4] = 3457;
	s.cell_mv[5] = 3449;
	charge_step(&c, &s, 0, &st, S(400), &r);
	CU_ASSERT(strncmp(r.mode, "Absorption", 10) == 0);
	/* spread 14 mV: restarted at 600 s */
	s.cell_mv[3] = 3443;
	s.cell_mv[4] = 3457;
	s.cell_mv[5] = 3450;
	charge_step(&c, &s, 0, &st, S(600), &r);
	set_all(&s, 3.45);
	charge_step(&c, &s, 0, &st, S(1001), &r); /* 100 + 900 would have ended here */
	CU_ASSERT(strncmp(r.mode, "Absorption", 10) == 0);
	charge_step(&c, &s, 0, &st, S(1500), &r); /* 900 s exactly: not yet */
	CU_ASSERT(strncmp(r.mode, "Absorption", 10) == 0);
	/* 900.001 s: float transition, CVL still at max this cycle */
	charge_step(&c, &s, 0, &st, S(1500.001), &r);
	CU_ASSERT(strncmp(r.mode, "Float Transition", 16) == 0);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	/* ramps down at 1 mV/s: 1.2 V in 1200 s */
	charge_step(&c, &s, 0, &st, S(2100.001), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.6, 1e-6);
	CU_ASSERT(strncmp(r.mode, "Float Transition", 16) == 0);
	charge_step(&c, &s, 0, &st, S(2700.001), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.0, 1e-6);
	CU_ASSERT_STRING_EQUAL(r.mode, "Float \xe2\x94\x82 Linear Mode");

	/* float stays while SOC >= 80 % and spread < 80 mV */
	set_all(&s, 3.30);
	s.soc_cpct = 8000;
	s.cell_mv[0] = 3379;
	s.cell_mv[1] = 3300;
	charge_step(&c, &s, 0, &st, S(3000), &r);
	CU_ASSERT(strncmp(r.mode, "Float", 5) == 0);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.0, EPS);
	/* spread 80 mV: back to bulk, CVL back to max at once */
	s.cell_mv[0] = 3380;
	charge_step(&c, &s, 0, &st, S(3001), &r);
	CU_ASSERT(strncmp(r.mode, "Bulk", 4) == 0);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);

	/* SOC below 80 %: back to bulk */
	struct charge_state fl = st;
	fl.float_mode = true;
	fl.phase = CHARGE_PHASE_FLOAT;
	set_all(&s, 3.30);
	s.soc_cpct = 7999;
	charge_step(&c, &s, 0, &fl, S(4000), &r);
	CU_ASSERT(strncmp(r.mode, "Bulk", 4) == 0);

	/* absorption cancelled when the pack falls 0.5 V below the target */
	charge_state_init(&st);
	set_all(&s, 3.45);
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT(strncmp(r.mode, "Absorption", 10) == 0);
	set_all(&s, 3.419); /* 54.704 < 54.7? no: 54.704 >= 54.7 keeps the timer */
	charge_step(&c, &s, 0, &st, S(10), &r);
	CU_ASSERT(strncmp(r.mode, "Absorption", 10) == 0);
	set_all(&s, 3.418); /* 54.688 */
	charge_step(&c, &s, 0, &st, S(20), &r);
	CU_ASSERT(strncmp(r.mode, "Bulk", 4) == 0);

	/* voltage_drop is added to the published CVL only */
	c.voltage_drop = 0.15;
	charge_step(&c, &s, 0, &st, S(30), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.35, EPS);

	/* cvl_control off: always max */
	c.voltage_drop = 0;
	c.cvl_control = false;
	charge_step(&c, &s, 0, &fl, S(5000), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	CU_ASSERT(strncmp(r.mode, "Keep always max voltage", 23) == 0);
}

static void test_cvl_ovp(void)
{
	struct charge_config c = charge_test_defaults();
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.40);
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	/* one cell at max: no penalty yet */
	s.cell_mv[7] = 3450;
	charge_step(&c, &s, 0, &st, S(1), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	/* one cell 1 mV over: at once to the sum of min(Vi, 3.45) */
	s.cell_mv[7] = 3451;
	charge_step(&c, &s, 0, &st, S(2), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 15 * 3.40 + 3.45, EPS);
	CU_ASSERT_STRING_EQUAL(r.mode, "Bulk (Cell OVP) \xe2\x94\x82 Linear Mode");
	s.cell_mv[7] = 3500;
	s.balancing = 1u << 7;
	s.valid |= BMS_V_BALANCING;
	charge_step(&c, &s, 0, &st, S(10), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.45, EPS);
	CU_ASSERT_STRING_EQUAL(r.mode, "Bulk (Cell OVP) + Balancing \xe2\x94\x82 Linear Mode");
	/* the BMS's heater on (the same moment again: nothing else moves) */
	s.heating = true;
	s.valid |= BMS_V_HEATING;
	charge_step(&c, &s, 0, &st, S(10), &r);
	CU_ASSERT_STRING_EQUAL(r.mode,
			       "Bulk (Cell OVP) + Balancing + Heating \xe2\x94\x82 Linear Mode");
	s.heating = false;
	/* cell recovers: held 60 s after the last reduction (t = 10) */
	s.cell_mv[7] = 3440;
	charge_step(&c, &s, 0, &st, S(69.9), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.45, EPS);
	charge_step(&c, &s, 0, &st, S(170), &r); /* 100 s of ramp at 1 mV/s */
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.55, 1e-9);
	CU_ASSERT(strstr(r.mode, "(Cell OVP*)") != NULL);
	charge_step(&c, &s, 0, &st, S(70 + 749), &r);
	CU_ASSERT(r.cvl_v < 55.2);
	charge_step(&c, &s, 0, &st, S(70 + 750), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, 1e-9);
	CU_ASSERT(strstr(r.mode, "OVP") == NULL);

	/* the ramp never overshoots the proposal */
	charge_state_init(&st);
	s = pack(16, 3.40);
	s.cell_mv[0] = 3550;
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.45, EPS);
	s.cell_mv[0] = 3460; /* proposal 54.45 still: restarts the hold */
	charge_step(&c, &s, 0, &st, S(100), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.45, EPS);
	/* clamped at the floor: min cell voltage x cells */
	set_all(&s, 2.0);
	s.cell_mv[0] = 3600;
	charge_step(&c, &s, 0, &st, S(200), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 46.4, EPS);
}

static void test_soc_reset(void)
{
	struct charge_config c = charge_test_defaults();
	c.soc_reset_after_days = 1;
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.40);
	s.soc_cpct = 9900;
	/* never done: due now */
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 16 * 3.65, EPS);
	CU_ASSERT_STRING_EQUAL(r.mode, "Bulk & SoC Reset \xe2\x94\x82 Linear Mode");
	/* 3.45 per cell is no longer over-voltage while it runs */
	set_all(&s, 3.60);
	charge_step(&c, &s, 0, &st, S(10), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 58.4, EPS);
	set_all(&s, 3.65);
	charge_step(&c, &s, 0, &st, S(20), &r);
	CU_ASSERT(strncmp(r.mode, "Absorption & SoC Reset", 22) == 0);
	charge_step(&c, &s, 0, &st, S(921), &r);
	CU_ASSERT(strncmp(r.mode, "Float Transition", 16) == 0);
	CU_ASSERT_FALSE(st.soc_reset_requested);
	CU_ASSERT_TRUE(st.soc_reset_known);
	set_all(&s, 3.35);
	charge_step(&c, &s, 0, &st, S(921 + 86400), &r);
	CU_ASSERT(strncmp(r.mode, "Float", 5) == 0);
	/* a day after the last one: back to bulk at the reset voltage */
	charge_step(&c, &s, 0, &st, S(921 + 86400.001), &r);
	CU_ASSERT_STRING_EQUAL(r.mode, "Bulk & SoC Reset \xe2\x94\x82 Linear Mode");
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 58.4, EPS);
}

/* ---- start-up and comms loss ------------------------------------------ */

static void test_startup(void)
{
	struct charge_config c = charge_test_defaults();
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.30);

	/* before the first snapshot: nothing flows, CVL invalid */
	charge_step(&c, NULL, UINT64_MAX, &st, S(0), &r);
	CU_ASSERT_FALSE(r.cvl_valid);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	CU_ASSERT_FALSE(r.allow_charge);
	CU_ASSERT_FALSE(r.allow_discharge);
	CU_ASSERT_FALSE(r.connected);

	/* the first snapshot: the limits the rules give, at once (no hold, no ramp) */
	charge_step(&c, &s, S(0.2), &st, S(0.5), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT(r.allow_charge && r.allow_discharge && r.connected && r.cvl_valid);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Max Battery Charge Current");
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "Max Battery Discharge Current");

	/* a first snapshot with a reduced target: that target, at once */
	charge_state_init(&st);
	s.temp_dc[0] = 475; /* 47.5 degC: CCL 18.75 A, DCL 22.5 A */
	charge_step(&c, &s, 0, &st, S(3), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 18.75, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 22.5, EPS);
	/* ... and the increase after that reduction holds and ramps */
	s.temp_dc[0] = 250;
	charge_step(&c, &s, 0, &st, S(4), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 18.75, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 22.5, EPS);
	charge_step(&c, &s, 0, &st, S(35), &r); /* 1 s of ramp at 5 A/s */
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 23.75, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 27.5, EPS);

	/* a first snapshot without cell voltages: CCL 0; the DCL is the hold
	 * fraction of what the rest of the snapshot allows, as outside the
	 * window (missing data alone never switches an inverter off at once),
	 * 0 from stale_after on; the first one with cells then gives its
	 * limits at once */
	charge_state_init(&st);
	struct bms_snapshot nc = pack(16, 3.3);
	nc.valid &= ~(uint32_t)BMS_V_CELLS;
	charge_step(&c, &nc, 0, &st, S(0), &r);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	CU_ASSERT_TRUE(r.allow_discharge);
	CU_ASSERT_FALSE(r.cvl_valid);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "No Cell Data");
	charge_step(&c, &nc, 0, &st, S(9.9), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	charge_step(&c, &nc, 0, &st, S(10), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	CU_ASSERT_FALSE(r.allow_discharge);
	s = pack(16, 3.3);
	charge_step(&c, &s, 0, &st, S(11), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);

	/* a snapshot that arrives already stale never lets current through */
	charge_state_init(&st);
	charge_step(&c, &s, S(15), &st, S(1000), &r);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	CU_ASSERT_FALSE(r.cvl_valid);
}

static void test_comms_loss(void)
{
	struct charge_config c = charge_test_defaults();
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.30);
	for (int t = 1; t <= 60; t++)
		charge_step(&c, &s, 0, &st, S((double)t), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 0);

	/* the snapshot taken at t = 60 s ages */
	charge_step(&c, &s, S(9.999), &st, S(69.999), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT_FALSE(r.stale);
	/* stale: charging stops, discharge held at half the last DCL */
	charge_step(&c, &s, S(10), &st, S(70), &r);
	CU_ASSERT(r.stale);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_FALSE(r.allow_charge);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	CU_ASSERT_TRUE(r.allow_discharge);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 2);
	CU_ASSERT(r.connected);
	CU_ASSERT(r.cvl_valid);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "No BMS Data");
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "No BMS Data, held");
	/* 15 s of silence: DCL still non-zero, CCL 0 */
	charge_step(&c, &s, S(15), &st, S(75), &r);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	charge_step(&c, &s, S(59.999), &st, S(119.999), &r);
	CU_ASSERT(r.connected);
	CU_ASSERT(r.cvl_valid);
	/* lost: /Connected 0 and CVL invalid as before; the DCL hold goes on */
	charge_step(&c, &s, S(60), &st, S(120), &r);
	CU_ASSERT_FALSE(r.connected);
	CU_ASSERT_FALSE(r.cvl_valid);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 2);
	/* the grace ends 1800 s after the last good cells: then DCL 0 */
	charge_step(&c, &s, S(1799.999), &st, S(1859.999), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	CU_ASSERT_TRUE(r.allow_discharge);
	charge_step(&c, &s, S(1800), &st, S(1860), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	CU_ASSERT_FALSE(r.allow_discharge);
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "No BMS Data, hold time over");

	/* data again at 2000 s: DCL at once, CCL through hold (30 s at 0) and ramp */
	charge_step(&c, &s, 0, &st, S(2000), &r);
	CU_ASSERT(r.connected);
	CU_ASSERT(r.cvl_valid);
	CU_ASSERT_FALSE(r.stale);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT_TRUE(r.allow_discharge);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Max Battery Charge Current *");
	charge_step(&c, &s, 0, &st, S(2029.999), &r);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	charge_step(&c, &s, 0, &st, S(2032), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 10, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	charge_step(&c, &s, 0, &st, S(2040), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);

	/* a short drop-out (15 s): the same, DCL back at once */
	charge_step(&c, &s, S(15), &st, S(2055), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	charge_step(&c, &s, 0, &st, S(2056), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT_EQUAL(r.ccl_a, 0);

	/* the hold is a fraction of the last DCL in force, not of the maximum */
	charge_state_init(&st);
	s.temp_dc[1] = 475; /* DCL 22.5 A */
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 22.5, EPS);
	charge_step(&c, &s, S(10), &st, S(10), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 11.25, EPS);
	s.temp_dc[1] = 250;

	/* configurable: fraction 0 or grace 0 = DCL 0 at stale_after, as before */
	struct charge_config c0 = c;
	c0.discharge_hold_fraction = 0;
	charge_state_init(&st);
	charge_step(&c0, &s, 0, &st, S(0), &r);
	charge_step(&c0, &s, S(10), &st, S(10), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	CU_ASSERT_FALSE(r.allow_discharge);
	c0 = c;
	c0.discharge_grace = 0;
	charge_state_init(&st);
	charge_step(&c0, &s, 0, &st, S(0), &r);
	charge_step(&c0, &s, S(10), &st, S(10), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	c0 = c;
	c0.discharge_hold_fraction = 0.8;
	c0.discharge_grace = 60;
	charge_state_init(&st);
	charge_step(&c0, &s, 0, &st, S(0), &r);
	charge_step(&c0, &s, S(59.999), &st, S(59.999), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 48, EPS);
	charge_step(&c0, &s, S(60), &st, S(60), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
}

/* The safe window: strictly inside 3.225..3.375 V, as the Python driver. */
static void test_comms_loss_window(void)
{
	struct charge_config c = charge_test_defaults();
	static const struct {
		uint16_t lo, hi; /* lowest and highest cell, mV */
		bool held;
	} cases[] = {
		{3226, 3374, true},  {3225, 3300, false}, {3300, 3375, false},
		{3100, 3300, false}, {3300, 3400, false}, {3226, 3226, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct charge_state st;
		struct charge_result r;
		charge_state_init(&st);
		struct bms_snapshot s = pack(16, 3.30);
		s.cell_mv[2] = cases[i].lo;
		s.cell_mv[9] = cases[i].hi;
		charge_step(&c, &s, 0, &st, S(100), &r);
		double last = r.dcl_a;
		CU_ASSERT(last > 0);
		/* before stale_after: normal control, whatever the window */
		charge_step(&c, &s, S(9.999), &st, S(109.999), &r);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, last, EPS);
		charge_step(&c, &s, S(10), &st, S(110), &r);
		if (fabs(r.dcl_a - (cases[i].held ? last / 2 : 0)) > 1e-3)
			fprintf(stderr, "\nwindow case %zu: dcl %.3f last %.3f\n", i, r.dcl_a,
				last);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, cases[i].held ? last / 2 : 0, 1e-3);
		CU_ASSERT_EQUAL(r.allow_discharge, cases[i].held);
		CU_ASSERT_EQUAL(r.ccl_a, 0);
		if (!cases[i].held)
			CU_ASSERT_STRING_EQUAL(r.discharge_limitation,
					       "No BMS Data, cells outside hold window");
	}
}

/*
 * One definition of which cells count (bms_stats_compute()): a cell the
 * publisher leaves out of /System/MaxCellVoltage is one the limits do not
 * come from, and the other way round. Before, charge/ counted cells up to
 * 2 x max_cell_voltage while the statistics on the bus counted any non-zero
 * reading: an unflagged 4.9 V (or 7 V) cell steered one and not the other.
 */
static void test_cells_agree_with_bus(void)
{
	struct charge_config c = charge_test_defaults();
	static const uint16_t odd[] = {4900, 7000};
	for (unsigned k = 0; k < 2; k++) {
		struct bms_snapshot s = pack(16, 3.30);
		s.cell_mv[6] = 3320;
		s.cell_mv[2] = odd[k]; /* no plausibility check ran (plan, tests) */
		struct charge_result r = once(&c, &s);
		struct bms_stats bus;
		bms_stats_compute(&s, &bus);
		/* the publisher shows r.stats: the same cells as its own view */
		CU_ASSERT(r.stats.cell_count == bus.cell_count &&
			  r.stats.cell_excluded == bus.cell_excluded &&
			  r.stats.cell_max_mv == bus.cell_max_mv &&
			  r.stats.cell_max_idx == bus.cell_max_idx &&
			  r.stats.cell_min_mv == bus.cell_min_mv &&
			  r.stats.cell_sum_mv == bus.cell_sum_mv);
		CU_ASSERT_EQUAL(r.stats.cell_max_mv, 3320);
		CU_ASSERT_EQUAL(r.stats.cell_max_idx, 6);
		CU_ASSERT_EQUAL(r.stats.cell_excluded, 1u << 2);
		/* the cell the bus does not show is missing data for the limits */
		CU_ASSERT_EQUAL(r.ccl_a, 0);
		CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cell 3 Implausible");
	}
	/* every cell counts: the statistics the limits came from are all of them */
	struct bms_snapshot s = pack(16, 3.30);
	s.cell_mv[6] = 3320;
	struct charge_result r = once(&c, &s);
	CU_ASSERT_EQUAL(r.stats.cell_count, 16);
	CU_ASSERT_EQUAL(r.stats.cell_max_mv, 3320);
	CU_ASSERT_EQUAL(r.stats.cell_sum_mv, 15 * 3300 + 3320);
	CU_ASSERT(r.ccl_a > 0);
}

/* A cell read outside the physical range (flagged by the plausibility
 * check) is not a measurement: CCL 0, the DCL as for missing data, and the
 * CVL is never computed from it. */
static void test_flagged_cell(void)
{
	struct charge_config c = charge_test_defaults();
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.30);
	charge_step(&c, &s, 0, &st, S(0), &r);
	charge_step(&c, &s, 0, &st, S(1), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 50, EPS);

	/* cell 5 flagged at 3.600 V: unflagged it would pull the CVL down (OVP) */
	s.cell_mv[4] = 3600;
	s.cell_implausible = 1u << 4;
	charge_step(&c, &s, 0, &st, S(2), &r);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_FALSE(r.allow_charge);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cell 5 Implausible");
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	CU_ASSERT_TRUE(r.allow_discharge);
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "Cell 5 Implausible, held");
	CU_ASSERT(r.cvl_valid);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	CU_ASSERT_EQUAL(r.bms_cable_alarm, 0);
	CU_ASSERT(r.connected && !r.stale);
	/* flagged at 0.5 V: unflagged the DCL table would give 0 */
	s.cell_mv[4] = 500;
	s.cell_mv[6] = 7000;
	s.cell_implausible = (1u << 4) | (1u << 6);
	charge_step(&c, &s, 0, &st, S(3), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cells 5, 7 Implausible");
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	/* the other candidates still count: discharge FET off -> 0 */
	s.discharge_fet = false;
	charge_step(&c, &s, 0, &st, S(4), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	CU_ASSERT_FALSE(r.allow_discharge);
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "BMS");
	s.discharge_fet = true;
	/* the grace counts from the last good cells (t = 1) */
	s.cell_mv[6] = 3300;
	s.cell_implausible = 1u << 4;
	charge_step(&c, &s, 0, &st, S(1800.999), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	charge_step(&c, &s, 0, &st, S(1801), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);
	CU_ASSERT_STRING_EQUAL(r.discharge_limitation, "Cell 5 Implausible, hold time over");
	/* the cell reads right again: DCL at once, CCL through hold and ramp */
	s.cell_mv[4] = 3300;
	s.cell_implausible = 0;
	charge_step(&c, &s, 0, &st, S(1900), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	charge_step(&c, &s, 0, &st, S(1931), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.ccl_a, 5, EPS);

	/* last good cells outside the window: the DCL lasts stale_after, then 0 */
	charge_state_init(&st);
	s = pack(16, 3.40);
	charge_step(&c, &s, 0, &st, S(0), &r);
	double last = r.dcl_a;
	s.cell_implausible = 1u << 0;
	charge_step(&c, &s, 0, &st, S(9.999), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, last / 2, 1e-3);
	charge_step(&c, &s, 0, &st, S(10), &r);
	CU_ASSERT_EQUAL(r.dcl_a, 0);

	/* discharge_grace 0 means DCL 0 at stale_after: a flagged cell after good
	 * ones still holds the DCL until then, never 0 at once */
	{
		struct charge_config g = c;
		g.discharge_grace = 0;
		struct charge_state gs;
		charge_state_init(&gs);
		struct bms_snapshot gp = pack(16, 3.30);
		charge_step(&g, &gp, 0, &gs, S(0), &r);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 60, EPS);
		gp.cell_implausible = 1u << 3;
		charge_step(&g, &gp, 0, &gs, S(1), &r);
		CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
		charge_step(&g, &gp, 0, &gs, S(10), &r);
		CU_ASSERT_EQUAL(r.dcl_a, 0);
	}

	/* a first snapshot with a flagged cell: CCL 0; the DCL held from what
	 * the rest of the snapshot allows until stale_after, as outside the
	 * window; the CVL is the configured target, from no cell */
	charge_state_init(&st);
	s = pack(16, 3.30);
	s.cell_mv[15] = 3650;
	s.cell_implausible = 1u << 15;
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
	struct charge_result r10;
	struct charge_state st10 = st;
	charge_step(&c, &s, 0, &st10, S(10), &r10);
	CU_ASSERT_EQUAL(r10.dcl_a, 0);
	CU_ASSERT(r.cvl_valid);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 55.2, EPS);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cell 16 Implausible");

	/* an unflagged reading of 0 V is not a measurement either, and is named */
	charge_state_init(&st);
	s = pack(16, 3.30);
	charge_step(&c, &s, 0, &st, S(0), &r);
	s.cell_mv[8] = 0;
	charge_step(&c, &s, 0, &st, S(1), &r);
	CU_ASSERT_EQUAL(r.ccl_a, 0);
	CU_ASSERT_STRING_EQUAL(r.charge_limitation, "Cell 9 Implausible");
	CU_ASSERT_DOUBLE_EQUAL(r.dcl_a, 30, EPS);
}

/* What a bank needs from a pack: float state and its absorption CVL. */
static void test_bank_fields(void)
{
	struct charge_config c = charge_test_defaults();
	c.voltage_drop = 0.1;
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.40);
	charge_step(&c, &s, 0, &st, S(0), &r);
	CU_ASSERT_FALSE(r.float_mode);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_absorb_v, 55.3, EPS);
	s.cell_mv[3] = 3500; /* OVP: 15 x 3.40 + 3.45 */
	charge_step(&c, &s, 0, &st, S(1), &r);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.55, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_absorb_v, 54.55, EPS);
	/* in float the CVL falls, the absorption CVL stays what bulk would ask */
	st.float_mode = true;
	s = pack(16, 3.36);
	s.soc_cpct = 9900;
	charge_step(&c, &s, 0, &st, S(2), &r);
	CU_ASSERT_TRUE(r.float_mode);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_absorb_v, 55.3, EPS);
	charge_step(&c, &s, 0, &st, S(3000), &r);
	CU_ASSERT_TRUE(r.float_mode);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.1, EPS);
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_absorb_v, 55.3, EPS);
}

/* ---- persistence ----------------------------------------------------- */

static void test_restart_in_float(void)
{
	struct charge_config c = charge_test_defaults();
	struct charge_state st;
	struct charge_result r;
	charge_state_init(&st);
	struct bms_snapshot s = pack(16, 3.45);
	s.soc_cpct = 10000;
	uint64_t t = 0;
	for (; t <= 3000; t += 5) /* seconds */
		charge_step(&c, &s, 0, &st, S((double)t), &r);
	CU_ASSERT(st.float_mode);
	char a[256], b[256];
	CU_ASSERT(charge_state_format(&st, a, sizeof(a)) > 0);
	charge_step(&c, &s, 0, &st, S((double)(t + 100)), &r);
	CU_ASSERT(charge_state_format(&st, b, sizeof(b)) > 0);
	CU_ASSERT_STRING_EQUAL(a, b); /* unchanged state, same text: no rewrite */

	/* a new process: monotonic time starts again */
	struct charge_state st2;
	charge_state_init(&st2);
	CU_ASSERT_EQUAL(charge_state_parse(&st2, a, S(5)), 0);
	s = pack(16, 3.36);
	s.soc_cpct = 9900;
	charge_step(&c, &s, 0, &st2, S(6), &r);
	CU_ASSERT_STRING_EQUAL(r.mode, "Float \xe2\x94\x82 Linear Mode");
	CU_ASSERT_DOUBLE_EQUAL(r.cvl_v, 54.0, EPS);

	/* bulk persists as bulk */
	charge_state_init(&st);
	CU_ASSERT(charge_state_format(&st, a, sizeof(a)) > 0);
	CU_ASSERT(strstr(a, "float=0") != NULL);

	/* soc-reset age survives, in whole hours */
	c.soc_reset_after_days = 2;
	charge_state_init(&st);
	st.soc_reset_known = true;
	st.soc_reset_last_ms = (int64_t)S(1000);
	st.last_now_ms = S(1000 + 5 * 3600 + 1800);
	CU_ASSERT(charge_state_format(&st, a, sizeof(a)) > 0);
	CU_ASSERT(strstr(a, "soc_reset_age_h=5\n") != NULL);
	CU_ASSERT_EQUAL(charge_state_parse(&st2, a, S(10)), 0);
	CU_ASSERT(st2.soc_reset_known);
	CU_ASSERT_EQUAL(st2.soc_reset_last_ms, (int64_t)S(10) - (int64_t)S(5 * 3600));

	/* junk is rejected and leaves a clean (bulk) state */
	static const char *const bad[] = {"",
					  "float=1\n",
					  "version=2\nfloat=1\n",
					  "version=1\nfloat=yes\n",
					  "version=1\nsoc_reset_age_h=-1\n",
					  "version=1\nnonsense\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st2.float_mode = true;
		CU_ASSERT_EQUAL(charge_state_parse(&st2, bad[i], S(1)), -EINVAL);
		CU_ASSERT_FALSE(st2.float_mode);
	}
	CU_ASSERT_EQUAL(charge_state_format(&st, a, 8), -ENOSPC);
}

/* ---- properties ------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static double uni(double lo, double hi)
{
	return lo + (hi - lo) * (double)(next() >> 11) / 9007199254740992.0;
}

/* Plain linear interpolation, ascending x: an independent reference. */
static double ref_lin(const double *x, const double *y, unsigned n, double in)
{
	if (in <= x[0])
		return y[0];
	if (in >= x[n - 1])
		return y[n - 1];
	for (unsigned i = 1; i < n; i++)
		if (in < x[i])
			return y[i - 1] + (y[i] - y[i - 1]) * (in - x[i - 1]) / (x[i] - x[i - 1]);
	return y[n - 1];
}

static void test_properties(void)
{
	static const double cx[] = {3.375, 3.4, 3.425, 3.45, 3.5}, cy[] = {1, 0.25, 0.05, 0.005, 0};
	static const double tx[] = {0, 2, 5, 10, 40, 45, 50, 55},
			    ty[] = {0, .25, .5, 1, 1, .5, .25, 0};
	struct charge_config base = charge_test_defaults();
	unsigned failures = 0;
	for (int run = 0; run < 400; run++) {
		struct charge_config c = base;
		c.max_charge_current = uni(1, 300);
		c.max_discharge_current = uni(1, 300);
		c.interpolation = (int)(next() % 2);
		c.soc_reset_after_days = next() % 4 == 0 ? uni(0.001, 2) : 0;
		c.cvl_recovery_hold = uni(0, 120);
		c.ccl_recovery_rate = next() % 5 == 0 ? 0 : uni(0.1, 50);
		c.ccl_recovery_hold = uni(0, 60);
		struct charge_state st;
		charge_state_init(&st);
		uint64_t now = next() % 1000000;
		unsigned n = 1 + (unsigned)(next() % 24);
		struct bms_snapshot s = pack(n, 3.3);
		/* an independent model of the discharge hold: the last DCL from good
		 * cells and whether those cells were inside 3.225..3.375 V */
		bool have_good = false, good_in_window = false;
		double good_dcl = 0;
		for (int step = 0; step < 200; step++) {
			now += next() % 20000;
			double centre = uni(2.6, 3.7);
			for (unsigned i = 0; i < n; i++)
				s.cell_mv[i] = (uint16_t)lround(1000 * (centre + uni(-0.05, 0.05)));
			s.cell_implausible = 0;
			bool bad_cell = false;
			if (next() % 50 == 0) {
				s.cell_mv[next() % n] = 0; /* a missing reading */
				bad_cell = true;
			}
			if (next() % 30 == 0) {
				/* flagged by the plausibility check, any reading */
				unsigned k = (unsigned)(next() % n);
				s.cell_mv[k] = (uint16_t)(next() % 65536);
				s.cell_implausible |= 1u << k;
				bad_cell = true;
			}
			s.temp_count = (uint8_t)(next() % 4);
			s.valid = BMS_V_CELLS | BMS_V_SOC | BMS_V_FETS | BMS_V_MOSFET_TEMP;
			if (s.temp_count)
				s.valid |= BMS_V_TEMPS;
			for (unsigned i = 0; i < s.temp_count; i++)
				s.temp_dc[i] = (int16_t)lround(uni(-200, 700));
			s.mosfet_temp_dc = (int16_t)lround(uni(0, 1000));
			s.soc_cpct = (uint16_t)(next() % 10001);
			s.charge_fet = next() % 8 != 0;
			s.discharge_fet = next() % 8 != 0;
			bool bms_lim = next() % 3 == 0;
			if (bms_lim) {
				s.valid |= BMS_V_MAX_CHARGE_I;
				s.max_charge_ma = (int32_t)(next() % 400000);
			}
			uint64_t age = next() % 10 == 0 ? next() % 100000 : next() % 3000;
			struct charge_result r;
			charge_step(&c, &s, age, &st, now, &r);

			unsigned ok = 1;
			ok &= r.ccl_a >= 0 && r.dcl_a >= 0 && isfinite(r.ccl_a) &&
			      isfinite(r.dcl_a);
			ok &= r.ccl_a <= c.max_charge_current + EPS;
			ok &= r.dcl_a <= c.max_discharge_current + EPS;
			if (bms_lim)
				ok &= r.ccl_a <= s.max_charge_ma / 1000.0 + EPS;
			double maxc = 0, tmin = 1e9;
			for (unsigned i = 0; i < n; i++)
				maxc = fmax(maxc, s.cell_mv[i] / 1000.0);
			for (unsigned i = 0; i < s.temp_count; i++)
				tmin = fmin(tmin, s.temp_dc[i] / 10.0);
			/* linear is the upper bound of both modes for this table shape
			 * at the breakpoints; compare against the step value in step mode */
			double cell_lim = c.max_charge_current * ref_lin(cx, cy, 5, maxc);
			if (c.interpolation == CHARGE_INTERP_LINEAR)
				ok &= r.ccl_a <= cell_lim + EPS;
			if (maxc >= 3.45)
				ok &= r.ccl_a <= c.max_charge_current * 0.005 + EPS;
			if (s.temp_count && c.interpolation == CHARGE_INTERP_LINEAR) {
				double tl = 1e9;
				for (unsigned i = 0; i < s.temp_count; i++)
					tl = fmin(tl, ref_lin(tx, ty, 8, s.temp_dc[i] / 10.0));
				ok &= r.ccl_a <= c.max_charge_current * tl + EPS;
			}
			if (s.temp_count && tmin <= 0)
				ok &= r.ccl_a == 0 && !r.allow_charge;
			if (!s.charge_fet)
				ok &= r.ccl_a == 0 && !r.allow_charge;
			if (!s.discharge_fet)
				ok &= r.dcl_a == 0 && !r.allow_discharge;
			/* missing data: no charge at once; discharge at most the hold
			 * fraction of the largest DCL there is, and allowed iff > 0 */
			if (age >= 10000)
				ok &= r.ccl_a == 0 && !r.allow_charge && r.stale &&
				      r.bms_cable_alarm == 2;
			if (age >= 10000 || bad_cell)
				ok &= r.ccl_a == 0 && !r.allow_charge &&
				      r.dcl_a <=
					      c.discharge_hold_fraction * c.max_discharge_current +
						      EPS;
			if (age < 10000 && bad_cell)
				ok &= !r.stale && r.bms_cable_alarm == 0 && r.connected;
			if (age >= 10000 || bad_cell) {
				if (!have_good && age >= 10000)
					ok &= r.dcl_a == 0;
				else if (have_good)
					ok &= r.dcl_a <= c.discharge_hold_fraction * good_dcl + EPS;
				if (age >= 10000 && !good_in_window)
					ok &= r.dcl_a == 0;
				if (!have_good && age < 10000) {
					/* bad cells before any good ones: held from the rest
					 * of the snapshot (at most the maximum), as outside
					 * the window */
					have_good = true;
					good_in_window = false;
					good_dcl = c.max_discharge_current;
				}
			} else {
				have_good = true;
				good_dcl = r.dcl_a;
				unsigned lo = 65535, hi = 0;
				for (unsigned i = 0; i < n; i++) {
					lo = s.cell_mv[i] < lo ? s.cell_mv[i] : lo;
					hi = s.cell_mv[i] > hi ? s.cell_mv[i] : hi;
				}
				good_in_window = lo > 3225 && hi < 3375;
			}
			ok &= r.allow_discharge == (r.dcl_a > 0 && s.discharge_fet);
			if (age >= 60000)
				ok &= !r.cvl_valid && !r.connected;
			if (r.cvl_valid) {
				double vmax = (c.soc_reset_after_days > 0 ? c.soc_reset_cell_voltage
									  : c.max_cell_voltage) *
					      n;
				ok &= r.cvl_v <= vmax + 1e-9;
				ok &= r.cvl_v >= c.min_cell_voltage * n - 1e-9 ||
				      r.cvl_v >= c.float_cell_voltage * n - 1e-9;
			}
			if (!ok && failures++ < 5)
				fprintf(stderr,
					"\nrun %d step %d: ccl %.4f dcl %.4f cvl %.4f maxc %.3f "
					"tmin %.1f age %llu\n",
					run, step, r.ccl_a, r.dcl_a, r.cvl_v, maxc, tmin,
					(unsigned long long)age);
			CU_ASSERT(ok);
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"defaults", test_defaults},
		{"validate", test_validate},
		{"ccl by cell voltage", test_ccl_cell_voltage},
		{"dcl by cell voltage", test_dcl_cell_voltage},
		{"temperature", test_temperature},
		{"mosfet, soc, bms", test_mosfet_soc_bms},
		{"recovery", test_recovery},
		{"cvl phases", test_cvl_phases},
		{"cvl cell ovp", test_cvl_ovp},
		{"soc reset", test_soc_reset},
		{"start-up", test_startup},
		{"comms loss", test_comms_loss},
		{"comms loss window", test_comms_loss_window},
		{"flagged cell", test_flagged_cell},
		{"cells agree with the bus", test_cells_agree_with_bus},
		{"bank fields", test_bank_fields},
		{"restart in float", test_restart_in_float},
		{"properties", test_properties},
		{NULL, NULL},
	};
	return sb_add_suite("charge", tests);
}
