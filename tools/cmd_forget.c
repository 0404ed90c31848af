/* SPDX-License-Identifier: MIT */
/*
 * serialbattery forget: remove an offline pack from the bank. The bank lists
 * a pack that went away as offline (cable alarm, /Bank/Offline) until it
 * returns or the owner says it is gone for good; this writes the bank's
 * /Bank/Forget like any D-Bus client (publish/status.c does the D-Bus part).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "publish/status.h"
#include "tools.h"

static void usage(FILE *out)
{
	fputs("usage: serialbattery forget [--bus-address ADDR] PACK\n"
	      "  Remove an offline pack from the bank (com.victronenergy.battery.aggregate).\n"
	      "  PACK: its number in the bank (as in \"Pack 2 (ttyUSB1) offline\"), its identity,\n"
	      "  its tty, its bank_packs entry, or \"offline\" for every offline pack.\n"
	      "  A pack that is online or stale is refused: its limits still count.\n"
	      "  --bus-address ADDR  a private bus (default: the system bus)\n",
	      out);
}

int cmd_forget(int argc, char **argv)
{
	static const struct option opts[] = {
		TOOL_OPT_BUS_ADDRESS, TOOL_OPT_HELP, {NULL, 0, NULL, 0}};
	static const struct tool_bus_opts bus = {opts, "a:h", usage, NULL, NULL};
	const char *address;
	int code = tool_bus_options(&bus, argc, argv, &address);
	if (code >= 0)
		return code;
	if (optind + 1 != argc || !argv[optind][0]) {
		usage(stderr);
		return 2;
	}
	const char *what = argv[optind];
	int r = publish_bank_forget(address, what);
	switch (r) {
	case 0:
		printf("forgotten: %s\n", what);
		return 0;
	case -ENOENT:
		fprintf(stderr, "serialbattery forget: no offline bank pack '%s'\n", what);
		return 1;
	case -ESRCH:
		fprintf(stderr, "serialbattery forget: no bank service on the bus\n");
		return 1;
	default:
		fprintf(stderr, "serialbattery forget: cannot reach the bus (%s)\n", strerror(-r));
		return 1;
	}
}
