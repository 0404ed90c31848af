/* SPDX-License-Identifier: MIT */
/* The option loop of the subcommands that talk to the daemon over D-Bus (see tools.h). */
#include <getopt.h>
#include <stdio.h>

#include "tools.h"

int tool_bus_options(const struct tool_bus_opts *o, int argc, char **argv, const char **ret_address)
{
	int c;
	*ret_address = NULL;
	optind = 1;
	while ((c = getopt_long(argc, argv, o->shortopts, o->longopts, NULL)) != -1) {
		if (c == 'a') {
			*ret_address = optarg;
			continue;
		}
		if (c == 'h') {
			o->usage(stdout);
			return 0;
		}
		int r = o->on_opt ? o->on_opt(c, optarg, o->ctx) : -1;
		if (r >= 0)
			return r;
		if (r == -1) {
			o->usage(stderr);
			return 2;
		}
	}
	return -1;
}
