/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "tools.h"

static const struct tool_cmd cmds[] = {
	/* one line per subcommand */
	{"plan", "run the charge algorithm over a scenario CSV", cmd_plan},
	{"decode", "decode captured BMS frames to JSON", cmd_decode},
	{"probe", "detect which BMS answers on a serial port", cmd_probe},
	{"simulate", "emulate a BMS on a pseudo-terminal", cmd_simulate},
	{"status", "list the battery services on D-Bus with key values", cmd_status},
	{"forget", "remove an offline pack from the bank", cmd_forget},
	{"set", "write to a pack's BMS (FETs, balancer, SOC) through D-Bus", cmd_set},
	{"import-config", "translate a dbus-serialbattery config.ini", cmd_import_config},
	{NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	fputs("usage: serialbattery <command> [options]\n\ncommands:\n", out);
	for (const struct tool_cmd *c = cmds; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fputs("\n'serialbattery <command> --help' describes a command.\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("serialbattery %s\n", SB_VERSION);
		return 0;
	}
	for (const struct tool_cmd *c = cmds; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "serialbattery: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
