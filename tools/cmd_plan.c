/* SPDX-License-Identifier: MIT */
/*
 * serialbattery plan: run the charge algorithm over a time series and print
 * what a Victron system would have been told at each step. The same
 * charge_step() the daemon calls, so a scenario file is a reproducible
 * experiment with a config (and a regression test: tests/charge/expected/).
 *
 * Scenario CSV: a header row naming the columns, then one row per step;
 * '#' lines are comments. The snapshot columns are the `csv` names of the
 * field table (bms/fields.c), in its SI units; the rest are the plan's own.
 * Columns (any order, unknown ones ignored):
 *   t                 seconds (monotonic, not decreasing)            required
 *   cell1..cellN      cell voltages, V
 *   cells,min,max,sum instead of cellN: count, lowest, highest, sum (V)
 *   current           A, positive = charging
 *   soc               %
 *   temp, temp1..tempN battery temperatures, degC
 *   mosfet            MOSFET temperature, degC
 *   charge_fet, discharge_fet, balancing   0/1 (default 1, 1, 0)
 *   bms_max_charge, bms_max_discharge      the BMS's own limits, A
 *   online            0 = no new data this step (default 1)
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bms/fields.h"
#include "charge/charge.h"
#include "config/schema.h"
#include "tools.h"

#define MAX_COLS 64
#define MAX_ROWS 100000

enum col_kind {
	COL_IGNORE,
	COL_T,
	COL_FIELD, /* a scalar of the field table */
	COL_ELEM,  /* element `index` of an array of the field table: cellN, tempN */
	COL_CELLS,
	COL_MIN,
	COL_MAX,
	COL_SUM,
	COL_BAL,
	COL_ONLINE,
};

struct col {
	enum col_kind kind;
	const struct bms_field *f; /* COL_FIELD, COL_ELEM */
	unsigned index;            /* COL_ELEM: 0-based */
};

/* "cell3" -> the cells field and 2; "temp" alone is temp1. false when name is no element. */
static bool elem_column(const char *name, const struct bms_field **ret_f, unsigned *ret_index)
{
	for (unsigned i = 0; i < BMS_FIELD_COUNT; i++) {
		const struct bms_field *f = &bms_fields[i];
		unsigned cap = bms_field_cap(f), idx;
		size_t pl = strlen(f->csv);
		char tail;
		if (!cap || !pl || strncmp(name, f->csv, pl) != 0)
			continue;
		if (f->type == BMS_FT_TEMPS && name[pl] == '\0') {
			idx = 1;
		} else if (sscanf(name + pl, "%u%c", &idx, &tail) != 1 || idx < 1 || idx > cap ||
			   name[pl] < '0' || name[pl] > '9') {
			continue;
		}
		*ret_f = f;
		*ret_index = idx - 1;
		return true;
	}
	return false;
}

/* One output row kept for the plot. */
struct point {
	double t, vmin, vmax, cvl_cell, ccl, dcl;
	bool cvl_valid;
};

static int usage(FILE *out)
{
	fputs("usage: serialbattery plan [--config FILE] --scenario FILE.csv [--out FILE.csv]\n"
	      "                          [--plot FILE.svg]\n"
	      "Runs the charge algorithm over a scenario and writes t, CVL, CCL, DCL, allow\n"
	      "flags, mode and limitation reasons per step (stdout without --out).\n"
	      "Without --config the defaults are used. See tools/cmd_plan.c for the columns.\n",
	      out);
	return out == stdout ? 0 : 2;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int parse_header(char *line, struct col *cols, unsigned *ncols)
{
	unsigned n = 0;
	bool have_t = false;
	for (char *save = NULL, *tok = strtok_r(line, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n >= MAX_COLS)
			return -E2BIG;
		char *name = trim(tok);
		struct col c = {COL_IGNORE, NULL, 0};
		if (strcmp(name, "t") == 0)
			c.kind = COL_T, have_t = true;
		else if ((c.f = bms_field_by_csv(name)) != NULL)
			c.kind = COL_FIELD;
		else if (elem_column(name, &c.f, &c.index))
			c.kind = COL_ELEM;
		else if (strcmp(name, "cells") == 0)
			c.kind = COL_CELLS;
		else if (strcmp(name, "min") == 0)
			c.kind = COL_MIN;
		else if (strcmp(name, "max") == 0)
			c.kind = COL_MAX;
		else if (strcmp(name, "sum") == 0)
			c.kind = COL_SUM;
		else if (strcmp(name, "balancing") == 0)
			c.kind = COL_BAL;
		else if (strcmp(name, "online") == 0)
			c.kind = COL_ONLINE;
		cols[n++] = c;
	}
	*ncols = n;
	return have_t ? 0 : -EINVAL;
}

/* One data row into a snapshot; returns 0, or -EINVAL naming nothing (the caller
 * reports the line). */
static int parse_row(char *line, const struct col *cols, unsigned ncols, double *ret_t,
		     bool *ret_online, struct bms_snapshot *s)
{
	double v[MAX_COLS];
	bool set[MAX_COLS] = {false};
	unsigned n = 0;
	char *p = line;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (n >= ncols)
			return -EINVAL;
		char *f = trim(p), *end;
		if (*f) {
			errno = 0;
			v[n] = strtod(f, &end);
			if (errno || *trim(end) || !isfinite(v[n]))
				return -EINVAL;
			set[n] = true;
		}
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}

	memset(s, 0, sizeof(*s));
	s->charge_fet = s->discharge_fet = true;
	s->valid = BMS_V_FETS;
	*ret_online = true;
	bool have_t = false;
	unsigned ncells = 0, ntemps = 0, agg_cells = 0;
	double vmin = 0, vmax = 0, vsum = 0;
	bool have_min = false, have_max = false, have_sum = false;
	for (unsigned i = 0; i < n; i++) {
		if (!set[i])
			continue;
		double x = v[i];
		switch (cols[i].kind) {
		case COL_T:
			*ret_t = x;
			have_t = true;
			break;
		case COL_FIELD:
			if (cols[i].f == &bms_fields[BMS_FIELD_SOC])
				x = fmin(fmax(x, 0),
					 100); /* the plan feeds charge/ only: a real SOC */
			bms_field_set(cols[i].f, s, x);
			break;
		case COL_ELEM:
			bms_field_set_elem(cols[i].f, s, cols[i].index, x);
			if (cols[i].f->type == BMS_FT_CELLS) {
				if (cols[i].index + 1 > ncells)
					ncells = cols[i].index + 1;
			} else if (cols[i].index + 1 > ntemps) {
				ntemps = cols[i].index + 1;
			}
			break;
		case COL_CELLS:
			agg_cells = x < 1 ? 0 : x > BMS_MAX_CELLS ? BMS_MAX_CELLS : (unsigned)x;
			break;
		case COL_MIN:
			vmin = x, have_min = true;
			break;
		case COL_MAX:
			vmax = x, have_max = true;
			break;
		case COL_SUM:
			vsum = x, have_sum = true;
			break;
		case COL_BAL:
			s->balancing = x != 0 ? 1u : 0u;
			s->valid |= BMS_V_BALANCING;
			break;
		case COL_ONLINE:
			*ret_online = x != 0;
			break;
		case COL_IGNORE:
			break;
		}
	}
	if (!have_t)
		return -EINVAL;
	if (ncells == 0 && agg_cells >= 2 && have_min && have_max && have_sum) {
		/* Aggregates only: one cell low, one high, the rest share the remainder. */
		ncells = agg_cells;
		double rest = (vsum - vmin - vmax) / (double)(agg_cells - 2);
		for (unsigned i = 0; i < agg_cells; i++)
			bms_field_set_elem(&bms_fields[BMS_FIELD_CELLS], s, i,
					   i == 0   ? vmin
					   : i == 1 ? vmax
						    : rest);
	}
	if (ncells) {
		s->cell_count = (uint8_t)ncells;
		s->valid |= BMS_V_CELLS;
		uint32_t sum = 0;
		for (unsigned i = 0; i < ncells; i++)
			sum += s->cell_mv[i];
		s->voltage_mv = (int32_t)sum;
		s->valid |= BMS_V_VOLTAGE;
	}
	if (ntemps) {
		s->temp_count = (uint8_t)ntemps;
		s->valid |= BMS_V_TEMPS;
	}
	return 0;
}

/* CSV field: quoted when it holds a comma or a quote. */
static void put_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* ---- SVG ---------------------------------------------------------------- */

struct panel {
	double y0, h;  /* pixel top and height */
	double lo, hi; /* value range */
};

#define SVG_W 900.0
#define SVG_L 60.0
#define SVG_R 20.0

static double px(double t, double t0, double t1)
{
	return SVG_L + (t1 > t0 ? (t - t0) / (t1 - t0) : 0) * (SVG_W - SVG_L - SVG_R);
}

static double py(const struct panel *p, double v)
{
	double f = p->hi > p->lo ? (v - p->lo) / (p->hi - p->lo) : 0.5;
	return p->y0 + p->h - f * p->h;
}

static void svg_line(FILE *f, const struct point *pts, size_t n, size_t field,
		     const struct panel *p, double t0, double t1, const char *color,
		     bool only_valid_cvl)
{
	bool open = false;
	for (size_t i = 0; i < n; i++) {
		if (only_valid_cvl && !pts[i].cvl_valid) {
			if (open)
				fputs("\"/>\n", f);
			open = false;
			continue;
		}
		double v;
		memcpy(&v, (const char *)&pts[i] + field, sizeof(v));
		if (!open)
			fprintf(f,
				"<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
				"points=\"",
				color);
		open = true;
		fprintf(f, "%.1f,%.1f ", px(pts[i].t, t0, t1), py(p, v));
	}
	if (open)
		fputs("\"/>\n", f);
}

static void svg_axes(FILE *f, const struct panel *p, const char *unit, double t0, double t1)
{
	fprintf(f,
		"<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
		"stroke=\"#888\"/>\n",
		SVG_L, p->y0, SVG_W - SVG_L - SVG_R, p->h);
	for (int i = 0; i <= 4; i++) {
		double v = p->lo + (p->hi - p->lo) * i / 4.0;
		fprintf(f,
			"<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.3g "
			"%s</text>\n",
			SVG_L - 4, py(p, v) + 3, v, unit);
	}
	for (int i = 0; i <= 6; i++) {
		double t = t0 + (t1 - t0) * i / 6.0;
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">%.0f "
			"s</text>\n",
			px(t, t0, t1), p->y0 + p->h + 12, t);
	}
}

static int write_svg(const char *path, const struct point *pts, size_t n, const char *title)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	double t0 = n ? pts[0].t : 0, t1 = n ? pts[n - 1].t : 1;
	struct panel pv = {40, 260, 1e9, -1e9}, pa = {340, 200, 0, 1};
	for (size_t i = 0; i < n; i++) {
		pv.lo = fmin(pv.lo, pts[i].vmin);
		pv.hi = fmax(pv.hi, pts[i].vmax);
		if (pts[i].cvl_valid) {
			pv.lo = fmin(pv.lo, pts[i].cvl_cell);
			pv.hi = fmax(pv.hi, pts[i].cvl_cell);
		}
		pa.hi = fmax(pa.hi, fmax(pts[i].ccl, pts[i].dcl));
	}
	if (pv.lo > pv.hi)
		pv.lo = 3.0, pv.hi = 3.6;
	pv.lo -= 0.01;
	pv.hi += 0.01;
	pa.hi *= 1.05;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"580\" "
		"font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
		"fill=\"white\"/>\n",
		SVG_W);
	fputs("<text x=\"60\" y=\"20\" font-size=\"14\">", f);
	for (const char *s = title; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
	fputs("</text>\n", f);
	svg_axes(f, &pv, "V", t0, t1);
	svg_axes(f, &pa, "A", t0, t1);
	svg_line(f, pts, n, offsetof(struct point, vmax), &pv, t0, t1, "#d62728", false);
	svg_line(f, pts, n, offsetof(struct point, vmin), &pv, t0, t1, "#1f77b4", false);
	svg_line(f, pts, n, offsetof(struct point, cvl_cell), &pv, t0, t1, "#2ca02c", true);
	svg_line(f, pts, n, offsetof(struct point, ccl), &pa, t0, t1, "#ff7f0e", false);
	svg_line(f, pts, n, offsetof(struct point, dcl), &pa, t0, t1, "#9467bd", false);
	fputs("<text x=\"70\" y=\"55\" font-size=\"11\" fill=\"#d62728\">max cell</text>\n"
	      "<text x=\"140\" y=\"55\" font-size=\"11\" fill=\"#1f77b4\">min cell</text>\n"
	      "<text x=\"210\" y=\"55\" font-size=\"11\" fill=\"#2ca02c\">CVL / cells</text>\n"
	      "<text x=\"70\" y=\"355\" font-size=\"11\" fill=\"#ff7f0e\">CCL</text>\n"
	      "<text x=\"110\" y=\"355\" font-size=\"11\" fill=\"#9467bd\">DCL</text>\n"
	      "</svg>\n",
	      f);
	return fclose(f) ? -errno : 0;
}

/* ---- main --------------------------------------------------------------- */

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"scenario", required_argument, NULL, 's'},
		{"out", required_argument, NULL, 'o'},
		{"plot", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *scenario = NULL, *outpath = NULL, *plot = NULL;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:s:o:p:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 's':
			scenario = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'p':
			plot = optarg;
			break;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (!scenario || optind != argc)
		return usage(stderr);

	int rc = 1;
	FILE *in = NULL, *out = stdout;
	struct point *pts = NULL;
	size_t npts = 0;
	struct sb_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		goto out;
	struct cfg_error err;
	if (sb_config_load(config, cfg, &err) < 0) {
		char msg[700];
		cfg_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "plan: %s\n", msg);
		goto out;
	}
	in = fopen(scenario, "re");
	if (!in) {
		fprintf(stderr, "plan: %s: %s\n", scenario, strerror(errno));
		goto out;
	}
	if (outpath) {
		out = fopen(outpath, "we");
		if (!out) {
			fprintf(stderr, "plan: %s: %s\n", outpath, strerror(errno));
			out = stdout;
			goto out;
		}
	}
	if (plot && !(pts = calloc(MAX_ROWS, sizeof(*pts))))
		goto out;

	struct col cols[MAX_COLS];
	unsigned ncols = 0;
	bool header = false, have_snap = false;
	struct bms_snapshot snap, last;
	struct charge_state st;
	charge_state_init(&st);
	double last_t = 0, snap_t = 0;
	char line[4096];
	unsigned lineno = 0;
	fputs("t,cvl,ccl,dcl,allow_charge,allow_discharge,mode,charge_limitation,discharge_"
	      "limitation\n",
	      out);
	while (fgets(line, sizeof(line), in)) {
		lineno++;
		chomp(line);
		char *l = trim(line);
		if (!*l || *l == '#')
			continue;
		if (!header) {
			if (parse_header(l, cols, &ncols) < 0) {
				fprintf(stderr, "plan: %s:%u: header needs a t column\n", scenario,
					lineno);
				goto out;
			}
			header = true;
			continue;
		}
		double t = 0;
		bool online;
		if (parse_row(l, cols, ncols, &t, &online, &snap) < 0 || t < last_t || t < 0) {
			fprintf(stderr, "plan: %s:%u: bad row\n", scenario, lineno);
			goto out;
		}
		last_t = t;
		if (online) {
			last = snap;
			snap_t = t;
			have_snap = true;
		}
		uint64_t now = (uint64_t)llround(t * 1000.0);
		uint64_t age = have_snap ? now - (uint64_t)llround(snap_t * 1000.0) : UINT64_MAX;
		struct charge_result r;
		charge_step(&cfg->charge, have_snap ? &last : NULL, age, &st, now, &r);

		fprintf(out, "%g,", t);
		if (r.cvl_valid)
			fprintf(out, "%.3f", r.cvl_v);
		fprintf(out, ",%.3f,%.3f,%d,%d,", r.ccl_a, r.dcl_a, r.allow_charge,
			r.allow_discharge);
		put_field(out, r.mode);
		fputc(',', out);
		put_field(out, r.charge_limitation);
		fputc(',', out);
		put_field(out, r.discharge_limitation);
		fputc('\n', out);

		if (pts && npts < MAX_ROWS && have_snap) {
			struct point *p = &pts[npts++];
			unsigned n = last.cell_count;
			p->t = t;
			p->vmin = 10;
			p->vmax = 0;
			for (unsigned i = 0; i < n; i++) {
				p->vmin = fmin(p->vmin, bms_mv_to_v(last.cell_mv[i]));
				p->vmax = fmax(p->vmax, bms_mv_to_v(last.cell_mv[i]));
			}
			if (n == 0)
				p->vmin = p->vmax = 0;
			p->cvl_valid = r.cvl_valid && n > 0;
			p->cvl_cell = n ? r.cvl_v / n : 0;
			p->ccl = r.ccl_a;
			p->dcl = r.dcl_a;
		}
	}
	if (!header) {
		fprintf(stderr, "plan: %s: no header row\n", scenario);
		goto out;
	}
	if (plot) {
		int e = write_svg(plot, pts, npts, scenario);
		if (e < 0) {
			fprintf(stderr, "plan: %s: %s\n", plot, strerror(-e));
			goto out;
		}
	}
	rc = 0;
out:
	if (in)
		fclose(in);
	if (out != stdout && fclose(out) != 0 && rc == 0) {
		fprintf(stderr, "plan: %s: %s\n", outpath, strerror(errno));
		rc = 1;
	}
	free(pts);
	free(cfg);
	return rc;
}
