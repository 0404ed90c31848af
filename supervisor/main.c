/* SPDX-License-Identifier: MIT */
/*
 * serialbatteryd: parses arguments and loads the config (failing with file,
 * line and key, exit status 2, before anything starts), then hands over to
 * the supervisor loop (supervisor/supervisor.c).
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "config/schema.h"
#include "supervisor/supervisor.h"

static void usage(FILE *out)
{
	fputs("usage: serialbatteryd [options]\n"
	      "  -c, --config FILE        config file (default: built-in defaults)\n"
	      "      --port PATH[:BMS]    claim PATH (a tty, a by-id link, a simulator pty) "
	      "without\n"
	      "                           touching the config; BMS pins the protocol; repeatable\n"
	      "      --no-udev            claim only configured and --port ports\n"
	      "      --bus-address ADDR   D-Bus address to publish on (default: the system bus)\n"
	      "      --state-dir DIR      override daemon.state_dir\n"
	      "      --check-config FILE  validate FILE and exit (0 ok, 2 error)\n"
	      "      --dump-config        print the effective config (with -c: that file) and "
	      "exit\n"
	      "      --dump-config-doc    same, with every key documented (the example config)\n"
	      "      --config-markdown    print the config reference as Markdown and exit\n"
	      "  -v, --verbose            more logging (repeat for debug)\n"
	      "  -q, --quiet              errors only\n"
	      "  -h, --help               this help\n"
	      "      --version            print the version\n",
	      out);
}

enum {
	OPT_CHECK = 256,
	OPT_DUMP,
	OPT_DUMP_DOC,
	OPT_MARKDOWN,
	OPT_VERSION,
	OPT_PORT,
	OPT_NO_UDEV,
	OPT_BUS,
	OPT_STATE_DIR,
};

int main(int argc, char **argv)
{
	/* One malloc arena for every thread: a worker allocates little, and an
	 * arena per worker thread costs resident memory per port for nothing. */
	mallopt(M_ARENA_MAX, 1);
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", required_argument, NULL, OPT_CHECK},
		{"dump-config", no_argument, NULL, OPT_DUMP},
		{"dump-config-doc", no_argument, NULL, OPT_DUMP_DOC},
		{"config-markdown", no_argument, NULL, OPT_MARKDOWN},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{"port", required_argument, NULL, OPT_PORT},
		{"no-udev", no_argument, NULL, OPT_NO_UDEV},
		{"bus-address", required_argument, NULL, OPT_BUS},
		{"state-dir", required_argument, NULL, OPT_STATE_DIR},
		{NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	int verbose = 0, quiet = 0, dump = 0;
	bool check = false, markdown = false;
	static struct supervisor_options so;
	int c;
	while ((c = getopt_long(argc, argv, "c:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case OPT_CHECK:
			config_path = optarg;
			check = true;
			break;
		case OPT_DUMP:
			dump = 1;
			break;
		case OPT_DUMP_DOC:
			dump = 2;
			break;
		case OPT_MARKDOWN:
			markdown = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_PORT:
			if (so.nports >= WORKER_MAX_PORTS) {
				fprintf(stderr, "serialbatteryd: at most %d --port options\n",
					WORKER_MAX_PORTS);
				return 2;
			}
			if (supervisor_parse_port(optarg, &so.ports[so.nports]) < 0) {
				fprintf(stderr,
					"serialbatteryd: --port %s: expected PATH or PATH:BMS with "
					"a "
					"known BMS name\n",
					optarg);
				return 2;
			}
			so.nports++;
			break;
		case OPT_NO_UDEV:
			so.no_udev = true;
			break;
		case OPT_BUS:
			so.bus_address = optarg;
			break;
		case OPT_STATE_DIR:
			so.state_dir = optarg;
			break;
		case OPT_VERSION:
			printf("serialbatteryd %s\n", SB_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "serialbatteryd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	log_init(SB_LOG_INFO, false, "serialbatteryd");
	if (markdown) {
		cfg_markdown(&sb_config_schema, stdout);
		return 0;
	}

	struct sb_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return 1;
	struct cfg_error err;
	int r = sb_config_load(config_path, cfg, &err);
	if (r < 0) {
		char msg[800];
		cfg_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "serialbatteryd: config error: %s\n", msg);
		free(cfg);
		return 2;
	}
	if (check) {
		printf("%s: ok\n", config_path);
		free(cfg);
		return 0;
	}
	if (dump) {
		cfg_dump(&sb_config_schema, cfg, stdout, dump == 2);
		free(cfg);
		return 0;
	}

	int level = cfg->daemon.log_level + verbose;
	if (quiet)
		level = SB_LOG_ERROR;
	if (level > SB_LOG_DEBUG)
		level = SB_LOG_DEBUG;
	log_init((enum sb_log_level)level, cfg->daemon.syslog, "serialbatteryd");

	so.config_path = config_path;
	so.verbose = verbose;
	so.quiet = quiet != 0;
	int status = supervisor_run(&so, cfg);
	free(cfg);
	return status;
}
