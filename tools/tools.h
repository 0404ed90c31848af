/* SPDX-License-Identifier: MIT */
/* The serialbattery command-line tool: one function per subcommand. */
#ifndef SB_TOOLS_H
#define SB_TOOLS_H

#include <stdio.h>

struct option;

struct tool_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* Subcommands, each in tools/cmd_<name>.c: one declaration here, one line in main.c. */
int cmd_plan(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_import_config(int argc, char **argv);

/* Options every bus client subcommand (status, set, forget) has; longopts lists them. */
#define TOOL_OPT_BUS_ADDRESS                                                                       \
	{                                                                                          \
		"bus-address", required_argument, NULL, 'a'                                        \
	}
#define TOOL_OPT_HELP                                                                              \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

struct tool_bus_opts {
	const struct option *longopts; /* with TOOL_OPT_BUS_ADDRESS and TOOL_OPT_HELP */
	const char *shortopts;         /* with "a:h" */
	void (*usage)(FILE *out);
	/* the command's own options: -2 taken, -1 not known (usage error), else the exit
	 * code to end with (a bad value: 2, its message printed); NULL when it has none */
	int (*on_opt)(int c, const char *arg, void *ctx);
	void *ctx;
};

/*
 * The getopt_long loop of a bus client: --bus-address into *ret_address (NULL:
 * the system bus), --help prints usage to stdout and ends with 0, an unknown
 * option prints it to stderr and ends with 2. Returns -1 to go on (optind at
 * the operands) or the exit code to end with.
 */
int tool_bus_options(const struct tool_bus_opts *o, int argc, char **argv,
		     const char **ret_address);

#endif
