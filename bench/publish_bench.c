/* SPDX-License-Identifier: MIT */
/*
 * Benchmark driver for the publisher: N batteries whose snapshots change
 * every poll (1 s) are committed into a store; the real publisher publishes
 * them on the bus given by --address. Prints the process CPU time and memory
 * (the publisher is the only busy thread; committing is negligible).
 * --idle: the snapshots never change after the first, only the poll counter
 * moves (as a real worker's does): a battery at rest.
 *   publish_bench --address ADDR --batteries N --seconds S [--bank] [--idle]
 */
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sbtime.h"
#include "common/store.h"
#include "publish/publish.h"
#include "publish/publish_config.h"

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	const char *address = NULL;
	int n = 1, seconds = 10;
	bool bank = false, idle = false;
	static const struct option opts[] = {{"address", required_argument, NULL, 'a'},
					     {"batteries", required_argument, NULL, 'n'},
					     {"seconds", required_argument, NULL, 's'},
					     {"bank", no_argument, NULL, 'b'},
					     {"idle", no_argument, NULL, 'i'},
					     {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "a:n:s:bi", opts, NULL)) != -1) {
		if (c == 'a')
			address = optarg;
		else if (c == 'n')
			n = atoi(optarg);
		else if (c == 's')
			seconds = atoi(optarg);
		else if (c == 'b')
			bank = true;
		else if (c == 'i')
			idle = true;
		else
			return 2;
	}
	if (!address || n < 1 || n > 32)
		return 2;
	log_init(SB_LOG_WARN, false, "publish_bench");

	struct publish_config cfg;
	const struct cfg_section secs[] = {{.name = "publish", .keys = publish_cfg_keys}, {NULL}};
	const struct cfg_schema sch = {.sections = secs};
	struct cfg_error err;
	if (cfg_defaults(&sch, &cfg, &err) < 0)
		return 1;
	cfg.bank_mode = bank ? PUBLISH_BANK_AUTO : PUBLISH_BANK_OFF;
	cfg.bank_startup_timeout_s = 0;

	struct store *st;
	if (store_new((unsigned)n, &st) < 0)
		return 1;
	int slots[32];
	for (int k = 0; k < n; k++) {
		char key[32];
		snprintf(key, sizeof(key), "bench-%d", k);
		if (store_open(st, key, &slots[k]) < 0)
			return 1;
	}
	struct publish_params prm = {.bus_address = address, .cfg = &cfg};
	struct publish *pub;
	if (publish_start(&prm, st, &pub) < 0)
		return 1;

	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {0, 1}};
	timerfd_settime(tfd, 0, &its, NULL);
	struct rusage r0;
	getrusage(RUSAGE_SELF, &r0);
	for (int tick = 0; tick <= seconds; tick++) {
		uint64_t x;
		if (read(tfd, &x, sizeof(x)) != sizeof(x))
			break;
		int v = idle ? 0 : tick; /* what the values are made of */
		for (int k = 0; k < n; k++) {
			struct bms_snapshot s;
			memset(&s, 0, sizeof(s));
			s.valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN |
				  BMS_V_CAP_FULL | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS |
				  BMS_V_ALARMS;
			s.current_ma = idle ? 0 : 10000 + v * 37 + k; /* at rest: no current */
			s.soc_cpct = (uint16_t)(5000 + v);
			s.capacity_full_mah = 280000;
			s.capacity_remain_mah = 140000 + v * 10;
			s.cell_count = 16;
			for (int i = 0; i < 16; i++)
				s.cell_mv[i] = (uint16_t)(3300 + ((v + i + k) % 7));
			s.voltage_mv = 0;
			for (int i = 0; i < 16; i++)
				s.voltage_mv += s.cell_mv[i];
			s.temp_count = 2;
			s.temp_dc[0] = (int16_t)(250 + v % 5);
			s.temp_dc[1] = 255;
			s.charge_fet = s.discharge_fet = true;
			struct store_info info = {.poll_interval_ms = 1000,
						  .cycles_ok = (uint64_t)tick};
			snprintf(info.tty, sizeof(info.tty), "ttyUSB%d", k);
			snprintf(info.protocol, sizeof(info.protocol), "jk");
			store_commit(st, slots[k], &s, &info, time_mono_ms());
		}
	}
	struct rusage r1;
	getrusage(RUSAGE_SELF, &r1);
	double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
			      r0.ru_stime.tv_sec) +
		     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
			      r0.ru_stime.tv_usec) /
			     1e6;
	/* seconds + 1 commits per battery: the first and one per tick */
	printf("batteries=%d seconds=%d cpu_s=%.3f cpu_pct=%.2f us_per_battery_cycle=%.1f "
	       "rss_kb=%ld hwm_kb=%ld\n",
	       n, seconds, cpu, 100.0 * cpu / seconds, cpu * 1e6 / ((seconds + 1) * n),
	       status_kb("VmRSS:"), status_kb("VmHWM:"));
	publish_free(pub);
	store_free(st);
	close(tfd);
	return 0;
}
