/* SPDX-License-Identifier: MIT */
/*
 * serialbattery status [--bus-address ADDR] [--watch] [--json]
 * Lists the battery services on the bus with their key values, read through
 * GetItems like any Venus client would (publish/status.c does the D-Bus part).
 */
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "publish/status.h"
#include "tools.h"

#define MAX_SERVICES 64

static void fmt(char *buf, size_t len, double v, const char *f)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, f, v);
}

static void json_num(FILE *out, const char *key, double v, bool comma)
{
	if (isnan(v))
		fprintf(out, "\"%s\": null%s", key, comma ? ", " : "");
	else
		fprintf(out, "\"%s\": %.4g%s", key, v, comma ? ", " : "");
}

static void json_str(FILE *out, const char *key, const char *s)
{
	fprintf(out, "\"%s\": \"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputs("\", ", out);
}

static void json_count(FILE *out, const char *key, double v)
{
	if (isnan(v))
		fprintf(out, "\"%s\": null", key);
	else
		fprintf(out, "\"%s\": %.0f", key, v);
}

static void print_json(const struct publish_status *s, int n)
{
	printf("[");
	for (int k = 0; k < n; k++) {
		const struct publish_status *b = &s[k];
		printf("%s\n  {", k ? "," : "");
		json_str(stdout, "service", b->service);
		json_str(stdout, "product", b->product);
		json_str(stdout, "custom_name", b->custom_name);
		json_str(stdout, "min_cell_id", b->min_cell_id);
		json_str(stdout, "max_cell_id", b->max_cell_id);
		json_num(stdout, "instance", b->instance < 0 ? (double)NAN : (double)b->instance,
			 true);
		json_num(stdout, "connected", b->connected < 0 ? (double)NAN : (double)b->connected,
			 true);
		json_num(stdout, "voltage", b->voltage, true);
		json_num(stdout, "current", b->current, true);
		json_num(stdout, "power", b->power, true);
		json_num(stdout, "soc", b->soc, true);
		json_num(stdout, "cvl", b->cvl, true);
		json_num(stdout, "ccl", b->ccl, true);
		json_num(stdout, "dcl", b->dcl, true);
		json_num(stdout, "min_cell", b->min_cell, true);
		json_num(stdout, "max_cell", b->max_cell, true);
		/* counters: whole digits, never %g's exponent */
		json_count(stdout, "implausible_cycles", b->implausible);
		printf(", ");
		json_count(stdout, "foreign_frames", b->foreign);
		printf(", ");
		json_count(stdout, "poll_cycles", b->polls);
		/* the BMS's own protection event counters, when it keeps them */
		bool any = false;
		for (unsigned e = 0; e < BMS_PROT_COUNT; e++)
			any = any || !isnan(b->prot_events[e]);
		printf(", \"protection_events\": ");
		if (!any) {
			printf("null");
		} else {
			printf("{");
			for (unsigned e = 0; e < BMS_PROT_COUNT; e++) {
				printf("%s", e ? ", " : "");
				json_count(stdout, bms_prot_name((enum bms_prot)e),
					   b->prot_events[e]);
			}
			printf("}");
		}
		printf("}");
	}
	printf("%s]\n", n ? "\n" : "");
}

static void print_table(const struct publish_status *s, int n)
{
	printf("%-36s %4s %3s %8s %8s %6s %7s %7s %7s %13s %13s %8s %11s\n", "service", "inst",
	       "con", "voltage", "current", "soc", "cvl", "ccl", "dcl", "min cell", "max cell",
	       "polls", "implausible");
	for (int k = 0; k < n; k++) {
		const struct publish_status *b = &s[k];
		const char *name = b->service + strlen("com.victronenergy.battery.");
		char v[16], i[16], soc[16], cvl[16], ccl[16], dcl[16], mn[16], mx[16], mnc[32],
			mxc[32], bad[24], polls[24];
		fmt(v, sizeof(v), b->voltage, "%.2fV");
		fmt(i, sizeof(i), b->current, "%.1fA");
		fmt(soc, sizeof(soc), b->soc, "%.0f%%");
		fmt(cvl, sizeof(cvl), b->cvl, "%.2fV");
		fmt(ccl, sizeof(ccl), b->ccl, "%.1fA");
		fmt(dcl, sizeof(dcl), b->dcl, "%.1fA");
		fmt(mn, sizeof(mn), b->min_cell, "%.3fV");
		fmt(mx, sizeof(mx), b->max_cell, "%.3fV");
		fmt(bad, sizeof(bad), b->implausible, "%.0f");
		fmt(polls, sizeof(polls), b->polls, "%.0f");
		snprintf(mnc, sizeof(mnc), "%s %s", mn, b->min_cell_id);
		snprintf(mxc, sizeof(mxc), "%s %s", mx, b->max_cell_id);
		printf("%-36s %4d %3s %8s %8s %6s %7s %7s %7s %13s %13s %8s %11s\n", name,
		       b->instance, b->connected == 1 ? "yes" : "no", v, i, soc, cvl, ccl, dcl, mnc,
		       mxc, polls, bad);
	}
	if (n == 0)
		printf("(no battery services on the bus)\n");
}

static void usage(FILE *out)
{
	fputs("usage: serialbattery status [--bus-address ADDR] [--watch] [--json]\n"
	      "  List the com.victronenergy.battery.* services with voltage, current, SOC,\n"
	      "  CVL/CCL/DCL, min/max cell, connection state, the poll cycles run\n"
	      "  (/Link/PollCycles) and dropped as implausible (/Link/ImplausibleCycles),\n"
	      "  read through GetItems.\n"
	      "  --bus-address ADDR  a private bus (default: the system bus)\n"
	      "  --watch             redraw every second until Ctrl-C\n"
	      "  --json              machine-readable output\n",
	      out);
}

struct status_flags {
	bool watch, json;
};

/* --watch, --json */
static int status_opt(int c, const char *arg, void *ctx)
{
	struct status_flags *f = ctx;
	(void)arg;
	if (c == 'w')
		f->watch = true;
	else if (c == 'j')
		f->json = true;
	else
		return -1;
	return -2;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		TOOL_OPT_BUS_ADDRESS,
		{"watch", no_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'j'},
		TOOL_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	struct status_flags flags = {false, false};
	const struct tool_bus_opts bus = {opts, "a:wjh", usage, status_opt, &flags};
	const char *address;
	int code = tool_bus_options(&bus, argc, argv, &address);
	if (code >= 0)
		return code;
	bool watch = flags.watch, json = flags.json;
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	int sfd = -1;
	if (watch) {
		/* Ctrl-C ends the watch through a signalfd polled with the redraw period */
		sigset_t mask;
		sigemptyset(&mask);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	}
	static struct publish_status st[MAX_SERVICES];
	int rc = 0;
	for (;;) {
		int n = publish_status_list(address, st, MAX_SERVICES);
		if (n < 0) {
			fprintf(stderr, "serialbattery status: cannot read the bus (%s)\n",
				strerror(-n));
			rc = 1;
			break;
		}
		if (n > MAX_SERVICES)
			n = MAX_SERVICES;
		if (watch && !json)
			fputs("\033[H\033[J", stdout);
		if (json)
			print_json(st, n);
		else
			print_table(st, n);
		fflush(stdout);
		if (!watch)
			break;
		struct pollfd p = {.fd = sfd, .events = POLLIN};
		if (poll(&p, 1, 1000) != 0)
			break;
	}
	if (sfd >= 0)
		close(sfd);
	return rc;
}
