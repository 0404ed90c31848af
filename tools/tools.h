/* SPDX-License-Identifier: MIT */
/* The serialbattery command-line tool: one function per subcommand. */
#ifndef SB_TOOLS_H
#define SB_TOOLS_H

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

#endif
