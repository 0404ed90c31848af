/* SPDX-License-Identifier: MIT */
/*
 * serialbattery set [--bus-address ADDR] [--timeout S] BATTERY KEY VALUE
 * One write to a pack's BMS through the daemon's D-Bus paths, like any client
 * (gui-v2, Node-RED) would make it: SetValue on the service's /Settings path,
 * then a bounded wait for the outcome the service reports (publish/status.c
 * does the D-Bus part). Exit 0 when the BMS took it, 1 with the reason when
 * it was refused or not confirmed, 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publish/status.h"
#include "tools.h"

static const struct set_key {
	const char *key;
	const char *path; /* the one written (and waited for) */
	int max;
	const char *show; /* what the BMS then reports */
	const char *what;
} set_keys[] = {
	{"force_charging_off", "/Settings/ForceChargingOff", 1, "/Settings/ForceChargingOff",
	 "1 switches the BMS's charge FET off, 0 undoes that"},
	{"force_discharging_off", "/Settings/ForceDischargingOff", 1,
	 "/Settings/ForceDischargingOff", "1 switches the discharge FET off, 0 undoes that"},
	{"turn_balancing_off", "/Settings/TurnBalancingOff", 1, "/Settings/TurnBalancingOff",
	 "1 switches the BMS's balancer off, 0 undoes that"},
	{"reset_soc", "/Settings/ResetSocToApply", 100, "/Soc", "sets the BMS's SOC (0..100 %)"},
	{NULL, NULL, 0, NULL, NULL},
};

static void usage(FILE *out)
{
	fputs("usage: serialbattery set [--bus-address ADDR] [--timeout S] BATTERY KEY VALUE\n"
	      "  Write to a pack's BMS through the daemon (the /Settings paths on D-Bus) and wait\n"
	      "  for what the BMS then reports. BATTERY: the service name\n"
	      "  (com.victronenergy.battery.ttyUSB0) or its tty part (ttyUSB0). KEY:\n",
	      out);
	for (const struct set_key *k = set_keys; k->key; k++)
		fprintf(out, "    %-22s %s\n", k->key, k->what);
	fputs("  Only the writes the pack's BMS protocol has exist (docs/DBUS.md).\n"
	      "  --bus-address ADDR  a private bus (default: the system bus)\n"
	      "  --timeout S         wait at most S seconds for the outcome (default 15)\n"
	      "  Exit 0 done, 1 refused or not confirmed (with the reason), 2 usage.\n",
	      out);
}

/* --timeout S */
static int set_opt(int c, const char *arg, void *ctx)
{
	double *timeout_s = ctx;
	char *end;
	if (c != 't')
		return -1;
	*timeout_s = strtod(arg, &end);
	if (*end || !(*timeout_s > 0 && *timeout_s <= 3600)) {
		fprintf(stderr, "serialbattery set: bad --timeout '%s'\n", arg);
		return 2;
	}
	return -2;
}

int cmd_set(int argc, char **argv)
{
	static const struct option opts[] = {
		TOOL_OPT_BUS_ADDRESS,
		{"timeout", required_argument, NULL, 't'},
		TOOL_OPT_HELP,
		{NULL, 0, NULL, 0},
	};
	double timeout_s = 15;
	const struct tool_bus_opts bus = {opts, "a:t:h", usage, set_opt, &timeout_s};
	const char *address;
	int code = tool_bus_options(&bus, argc, argv, &address);
	if (code >= 0)
		return code;
	if (optind + 3 != argc) {
		usage(stderr);
		return 2;
	}
	const char *battery = argv[optind], *key = argv[optind + 1], *vs = argv[optind + 2];
	const struct set_key *k = set_keys;
	while (k->key && strcmp(k->key, key) != 0)
		k++;
	if (!k->key) {
		fprintf(stderr, "serialbattery set: unknown key '%s'\n", key);
		usage(stderr);
		return 2;
	}
	char *end;
	long v = strtol(vs, &end, 10);
	if (!vs[0] || *end || v < 0 || v > k->max) {
		fprintf(stderr, "serialbattery set: %s takes 0..%d, not '%s'\n", key, k->max, vs);
		return 2;
	}
	char service[160];
	int r = publish_battery_find(address, battery, service, sizeof(service));
	if (r == -ENOENT || r == -EEXIST) {
		fprintf(stderr, "serialbattery set: %s battery service '%s' on the bus\n",
			r == -ENOENT ? "no" : "more than one", battery);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "serialbattery set: cannot reach the bus (%s)\n", strerror(-r));
		return 1;
	}
	bool soc = strcmp(k->key, "reset_soc") == 0;
	struct publish_write w = {
		.service = service,
		.path = k->path,
		.value = soc ? 1 : (int32_t)v,
		.pre_path = soc ? "/Settings/ResetSocTo" : NULL,
		.pre_value = (int32_t)v,
		.show_path = k->show,
		.timeout_ms = (unsigned)(timeout_s * 1000),
	};
	struct publish_write_result res;
	r = publish_write_wait(address, &w, &res);
	switch (r) {
	case 0:
		if (isnan(res.shown))
			printf("%s: %s %ld: done (%s unknown)\n", service, k->path + 10, v,
			       k->show);
		else
			printf("%s: %s %ld: done; %s = %g\n", service, k->path + 10, v,
			       k->show + (soc ? 1 : 10), res.shown);
		return 0;
	case -EPERM:
		fprintf(stderr, "serialbattery set: %s: %s\n", service,
			res.error[0] ? res.error : "refused");
		return 1;
	case -ETIMEDOUT:
		fprintf(stderr, "serialbattery set: %s: no outcome within %g s\n", service,
			timeout_s);
		return 1;
	case -ENOENT:
		fprintf(stderr,
			"serialbattery set: %s has no %s: its BMS protocol has no such write\n",
			service, soc ? "/Settings/ResetSocTo" : k->path);
		return 1;
	case -ESRCH:
		fprintf(stderr, "serialbattery set: %s left the bus\n", service);
		return 1;
	default:
		fprintf(stderr, "serialbattery set: cannot reach the bus (%s)\n", strerror(-r));
		return 1;
	}
}
