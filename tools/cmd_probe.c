/* SPDX-License-Identifier: MIT */
/*
 * serialbattery probe PATH [--bms NAME] [--baud N] [--address N]... [--scan]
 *                          [--state-dir DIR] [--json] [-v]
 *
 * Runs the worker's own detection (worker/detect.c) once on a port and says
 * what answered. Exit 0 when a BMS was found, 1 when nothing answered, 2 on a
 * usage or port error: serial-starter or a user can tell quickly.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sbtime.h"
#include "tools.h"
#include "tools/snapshot_json.h"
#include "worker/detect.h"

static void usage(FILE *out)
{
	fputs("usage: serialbattery probe PATH [--bms NAME] [--baud N] [--address N]...\n"
	      "                           [--scan] [--state-dir DIR] [--json] [-v]\n"
	      "Detect which BMS answers on PATH and print one full snapshot.\n"
	      "  --bms NAME     try only this driver (opt-in drivers need it)\n"
	      "  --baud N       with --bms: only this line speed\n"
	      "  --address N    bus address to try (repeatable; 0x.. accepted)\n"
	      "  --scan         collect every answering address in the driver's range\n"
	      "  --state-dir D  use and update the remembered protocol under D\n"
	      "  --json         one JSON object on stdout\n"
	      "  -v             log every attempt (debug) on stderr\n"
	      "exit: 0 found, 1 nothing answered, 2 usage or port error\n",
	      out);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bms", required_argument, NULL, 'b'},
		{"baud", required_argument, NULL, 'B'},
		{"address", required_argument, NULL, 'a'},
		{"scan", no_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct worker_detect_opts o = {.retries = 2, .quick = true};
	uint8_t addrs[WORKER_MAX_ADDRS];
	bool json = false, verbose = false;
	const char *state_dir = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		unsigned long v;
		switch (c) {
		case 'b':
			o.bms = optarg;
			break;
		case 'B':
			if (parse_uint(optarg, 4000000, &v) < 0) {
				fprintf(stderr, "probe: bad --baud '%s'\n", optarg);
				return 2;
			}
			o.baud = (uint32_t)v;
			break;
		case 'a':
			if (parse_uint(optarg, 255, &v) < 0 || o.naddresses >= WORKER_MAX_ADDRS) {
				fprintf(stderr, "probe: bad --address '%s'\n", optarg);
				return 2;
			}
			addrs[o.naddresses++] = (uint8_t)v;
			break;
		case 's':
			o.scan = true;
			break;
		case 'd':
			state_dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	if (o.bms && !bms_driver_find(o.bms)) {
		fprintf(stderr, "probe: unknown bms '%s'; known:", o.bms);
		for (size_t i = 0; bms_drivers[i]; i++)
			fprintf(stderr, " %s", bms_drivers[i]->name);
		fputc('\n', stderr);
		return 2;
	}
	if (o.baud && !o.bms) {
		fputs("probe: --baud needs --bms\n", stderr);
		return 2;
	}
	log_init(verbose ? SB_LOG_DEBUG : SB_LOG_WARN, false, "serialbattery");
	o.addresses = o.naddresses ? addrs : NULL;
	o.state_dir = state_dir;
	o.identity = path;

	struct worker_link *l;
	int r = worker_link_open(path, -1, &l);
	if (r < 0) {
		fprintf(stderr, "probe: %s: %s\n", path, strerror(-r));
		return 2;
	}
	struct worker_detect_result res;
	uint64_t t0 = time_mono_ms();
	/* a quick round, then a thorough one for slow devices */
	r = worker_detect(l, &o, &res);
	if (r == -EHOSTUNREACH && !(o.bms && o.bms[0])) {
		o.quick = false;
		r = worker_detect(l, &o, &res);
	}
	uint64_t total = time_mono_ms() - t0;
	worker_link_close(l);
	if (r == -EHOSTUNREACH) {
		if (json)
			printf("{\"path\":\"%s\",\"found\":false}\n", path);
		else
			printf("%s: no BMS answered\n", path);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "probe: %s: %s\n", path, strerror(-r));
		return 2;
	}
	if (json) {
		printf("{\"path\":\"%s\",\"found\":true,\"protocol\":\"%s\",\"baud\":%u,"
		       "\"address\":%u,\"addresses\":[",
		       path, res.drv->name, res.baud, res.address);
		for (unsigned i = 0; i < res.naddresses; i++)
			printf("%s%u", i ? "," : "", res.addresses[i]);
		printf("],\"remembered\":%s,\"candidates\":%u,\"time_ms\":%llu,\"snapshot\":",
		       res.remembered ? "true" : "false", res.attempts, (unsigned long long)total);
		snapshot_json_write(stdout, &res.snap);
		fputs("}\n", stdout);
	} else {
		printf("%s: %s (%s) at %u baud", path, res.drv->name, res.drv->description,
		       res.baud);
		if (res.drv->flags & BMS_F_ADDRESSED) {
			printf(", address");
			for (unsigned i = 0; i < res.naddresses; i++)
				printf("%s 0x%02x", i ? "," : "", res.addresses[i]);
		}
		printf(", found in %llu ms after %u candidate%s%s\n", (unsigned long long)total,
		       res.attempts, res.attempts == 1 ? "" : "s",
		       res.remembered ? " (remembered)" : "");
		snapshot_json_write(stdout, &res.snap);
		fputc('\n', stdout);
	}
	return 0;
}
