/* SPDX-License-Identifier: MIT */
/*
 * The supervisor: serialbatteryd's main thread. It owns the port table, the
 * only place where worker and publisher threads are created and joined.
 * One poll() waits on a signalfd (SIGINT/SIGTERM stop, SIGHUP reloads the
 * config), the udev monitor, a timerfd for restarts and each worker's
 * notify eventfd (written when a worker ends by itself).
 */
#ifndef SB_SUPERVISOR_H
#define SB_SUPERVISOR_H

#include <stdbool.h>

#include "config/schema.h"
#include "worker/worker.h"

/* A port claimed on the command line: --port PATH[:BMS]. */
struct supervisor_cli_port {
	char path[256];
	char bms[CFG_STR]; /* "" = autodetect */
};

struct supervisor_options {
	const char *config_path; /* NULL: built-in defaults */
	struct supervisor_cli_port ports[WORKER_MAX_PORTS];
	unsigned nports;
	const char *bus_address; /* NULL: the system bus */
	const char *state_dir;   /* NULL: daemon.state_dir from the config */
	int verbose;             /* added to daemon.log_level */
	bool quiet;
	bool no_udev; /* only the configured/--port ports (tests without udev) */
};

/* Parse "PATH[:BMS]" (BMS checked against the driver table). 0 or -EINVAL. */
int supervisor_parse_port(const char *arg, struct supervisor_cli_port *ret);

/* Delay before restart number failures+1 of a port: 1 s doubling, capped at cap_ms. */
unsigned supervisor_backoff_ms(unsigned failures, unsigned cap_ms);

/*
 * Run until SIGINT/SIGTERM. cfg is the already loaded config; it is owned by
 * the caller but replaced in place on a successful SIGHUP reload. Returns the
 * process exit status (0 clean stop, 1 start-up failure).
 */
int supervisor_run(const struct supervisor_options *o, struct sb_config *cfg);

#endif
