/* SPDX-License-Identifier: MIT */
/*
 * serialbatteryd end to end against umockdev: the real daemon binary runs
 * with libumockdev-preload.so and this process's testbed, so its real
 * libudev code enumerates and monitors fake USB serial adapters whose /dev
 * nodes are ptys. We watch the daemon from outside: its log, its thread
 * count (/proc/PID/status) and its open fds (/proc/PID/fd).
 *
 * SB_SOAK_CYCLES (default 200) sets the plug/unplug soak length.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sbtime.h"
#include "tests/support/cunit_main.h"
#include "tests/udev/mockdev.h"

extern char **environ;

static UMockdevTestbed *tb;
static char dir[128];
static char logpath[256];
static char confpath[256];
static pid_t daemon_pid;

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);
	for (;;) {
		if (len + 4097 > cap) {
			cap *= 2;
			b = realloc(b, cap);
		}
		size_t n = fread(b + len, 1, 4096, f);
		if (!n)
			break;
		len += n;
	}
	b[len] = '\0';
	fclose(f);
	return b;
}

static int count_in_log(const char *needle)
{
	char *s = slurp(logpath);
	int n = 0;
	for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(s);
	return n;
}

static bool wait_log_count(const char *needle, int count, unsigned ms)
{
	uint64_t deadline = time_mono_ms() + ms;
	do {
		if (count_in_log(needle) >= count)
			return true;
		poll(NULL, 0, 20);
	} while (time_mono_ms() < deadline);
	fprintf(stderr, "\n  waited %u ms for %d x '%s'\n", ms, count, needle);
	return false;
}

static int proc_threads(pid_t pid)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "re");
	int n = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static int proc_fds(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(p);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static bool wait_threads(int want, unsigned ms)
{
	uint64_t deadline = time_mono_ms() + ms;
	do {
		if (proc_threads(daemon_pid) == want)
			return true;
		poll(NULL, 0, 10);
	} while (time_mono_ms() < deadline);
	fprintf(stderr, "\n  threads %d, wanted %d\n", proc_threads(daemon_pid), want);
	return false;
}

static void write_conf(const char *text)
{
	FILE *f = fopen(confpath, "we");
	fputs(text, f);
	fclose(f);
}

static int start_daemon(void)
{
	const char *bin = getenv("SB_BINARY_DIR");
	static int runs;
	snprintf(logpath, sizeof(logpath), "%s/daemon%d.log", dir, ++runs);
	char exe[512], statedir[256];
	snprintf(exe, sizeof(exe), "%s/supervisor/serialbatteryd", bin ? bin : ".");
	snprintf(statedir, sizeof(statedir), "%s/state", dir);
	mkdir(statedir, 0700);
	char *argv[] = {exe,		"-v",	 "-c", confpath, "--state-dir", statedir,
			"--bus-address", "unix:path=/nonexistent/sb-test-bus", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	/* UMOCKDEV_DIR (set by the testbed) and LD_PRELOAD (set by ctest) are inherited */
	int r = posix_spawn(&daemon_pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return -r;
	return wait_log_count("running (config", 1, 20000) ? 0 : -ETIMEDOUT;
}

/* SIGTERM; the daemon must exit 0 (ASan turns a leak into a failure status) within 10 s. */
static int stop_daemon(void)
{
	kill(daemon_pid, SIGTERM);
	uint64_t deadline = time_mono_ms() + 10000;
	int st;
	while (waitpid(daemon_pid, &st, WNOHANG) == 0) {
		if (time_mono_ms() > deadline) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, &st, 0);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, 10);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "\n  daemon %s %d\n", WIFEXITED(st) ? "exit status" : "killed by signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int setup(void)
{
	if (tb)
		return 0;
	snprintf(dir, sizeof(dir), "/tmp/sb-hotplug-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(logpath, sizeof(logpath), "%s/daemon.log", dir);
	snprintf(confpath, sizeof(confpath), "%s/serialbattery.conf", dir);
	tb = umockdev_testbed_new();
	return umockdev_in_mock_environment() ? 0 : -1;
}

static void test_plug_unplug_replug(void)
{
	CU_ASSERT_FATAL(setup() == 0);
	write_conf("daemon = { log_level = \"info\"; };\n");
	struct mock_adapter ch340, ved;
	/* present before the daemon starts: found by enumeration */
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_CH340, 1, "ttyUSB0", &ch340) == 0);
	CU_ASSERT_FATAL(start_daemon() == 0);
	int base = proc_threads(daemon_pid) - 1; /* main + publisher, minus the CH340 worker */
	CU_ASSERT(wait_log_count("ttyUSB0: worker started (identity path-pci-0000:00:14.0-usb-0:1:1.0)",
				 1, 10000));
	CU_ASSERT(wait_threads(base + 1, 10000));

	/* plugged later: found by the monitor */
	struct mock_adapter ftdi;
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_FTDI, 2, "ttyUSB1", &ftdi) == 0);
	CU_ASSERT(wait_log_count("ttyUSB1: worker started (identity FTDI_FT232R_USB_UART_A10K1234)",
				 1, 10000));
	CU_ASSERT(wait_threads(base + 2, 10000));

	/* the Victron cable is never claimed */
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_VEDIRECT, 3, "ttyUSB2", &ved) == 0);
	CU_ASSERT(wait_log_count("ttyUSB2: not claimed: a Victron interface", 1, 10000));
	CU_ASSERT(count_in_log("ttyUSB2: worker started") == 0);
	CU_ASSERT(proc_threads(daemon_pid) == base + 2);

	/* unplug the FTDI: its worker stops, the CH340's keeps running */
	uint64_t t0 = time_mono_ms();
	mock_unplug(tb, &ftdi);
	CU_ASSERT(wait_threads(base + 1, 5000));
	uint64_t took = time_mono_ms() - t0;
	fprintf(stderr, "\n  unplug -> worker joined in %llu ms\n", (unsigned long long)took);
	CU_ASSERT(count_in_log("ttyUSB1: released (device removed)") == 1);
	CU_ASSERT(count_in_log("ttyUSB0: released") == 0);

	/* replug on another ttyUSB number: same identity */
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_FTDI, 2, "ttyUSB7", &ftdi) == 0);
	CU_ASSERT(wait_log_count("ttyUSB7: worker started (identity FTDI_FT232R_USB_UART_A10K1234)",
				 1, 10000));
	CU_ASSERT(wait_threads(base + 2, 10000));

	/* SIGHUP with a bad file: old config kept, error names file and line */
	write_conf("daemon = { log_level = \"info\"; };\nudev = { exclude = [\"bogus\"]; };\n");
	kill(daemon_pid, SIGHUP);
	char want[400];
	snprintf(want, sizeof(want), "keeping the running config: %s:2: udev.exclude", confpath);
	CU_ASSERT(wait_log_count(want, 1, 10000));
	CU_ASSERT(proc_threads(daemon_pid) == base + 2);

	/* SIGHUP with a good file that excludes the CH340: only its worker stops */
	write_conf("udev = { exclude = [\"1a86:7523\"]; };\n");
	kill(daemon_pid, SIGHUP);
	CU_ASSERT(wait_log_count("ttyUSB0: released (matches a udev.exclude rule)", 1, 10000));
	CU_ASSERT(wait_threads(base + 1, 10000));
	CU_ASSERT(count_in_log("ttyUSB7: released") == 0);

	CU_ASSERT(stop_daemon() == 0);
	CU_ASSERT(count_in_log("stopped") == 1);
	mock_unplug(tb, &ch340);
	mock_unplug(tb, &ved);
	mock_unplug(tb, &ftdi);
}

static void test_soak(void)
{
	const char *env = getenv("SB_SOAK_CYCLES");
	int cycles = env ? atoi(env) : 200;
	CU_ASSERT_FATAL(setup() == 0);
	write_conf("daemon = { log_level = \"info\"; };\n");
	struct mock_adapter keep, a;
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_CP2102, 4, "ttyUSB3", &keep) == 0);
	CU_ASSERT_FATAL(start_daemon() == 0);
	CU_ASSERT(wait_log_count("ttyUSB3: worker started", 1, 10000));
	/* let start-up settle (publisher, first worker) before taking the baseline */
	poll(NULL, 0, 200);
	int threads0 = proc_threads(daemon_pid), fds0 = proc_fds(daemon_pid);
	char started[64];
	for (int i = 0; i < cycles; i++) {
		/* umockdev cannot reuse a device name, so each cycle gets a new ttyUSB number */
		char tty[32], want[96];
		snprintf(tty, sizeof(tty), "ttyUSB%d", 100 + i);
		CU_ASSERT_FATAL(mock_plug(tb, MOCK_CH340, 5, tty, &a) == 0);
		snprintf(want, sizeof(want), "%s: worker started (identity path-", tty);
		CU_ASSERT_FATAL(wait_log_count(want, 1, 10000));
		mock_unplug(tb, &a);
		snprintf(want, sizeof(want), "%s: released (device removed)", tty);
		CU_ASSERT_FATAL(wait_log_count(want, 1, 10000));
	}
	snprintf(started, sizeof(started), "%d cycles", cycles);
	CU_ASSERT(wait_threads(threads0, 10000));
	int fds1 = proc_fds(daemon_pid);
	fprintf(stderr, "\n  soak %s: threads %d -> %d, fds %d -> %d\n", started, threads0,
		proc_threads(daemon_pid), fds0, fds1);
	CU_ASSERT(fds1 == fds0);
	CU_ASSERT(stop_daemon() == 0); /* under ASan a leak fails this */
	mock_unplug(tb, &keep);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"plug, unplug, replug, Victron cable, SIGHUP, SIGTERM", test_plug_unplug_replug},
		{"soak: plug/unplug cycles, no fd or thread leak", test_soak},
		{NULL, NULL},
	};
	return sb_add_suite("supervisor_hotplug", tests);
}
