/* SPDX-License-Identifier: MIT */
/*
 * serialbatteryd end to end against umockdev: the real daemon binary runs
 * with libumockdev-preload.so and this process's testbed, so its real
 * libudev code enumerates and monitors fake USB serial adapters. An
 * adapter's /dev node is either umockdev's own pty (nothing answers: the
 * worker stays in detection) or the link of a `serialbattery simulate`
 * (a BMS answers: the worker detects and polls it, the publisher puts it on
 * a private bus). We watch the daemon from outside: its log, its threads
 * (/proc/PID/task, with their names), its open fds (/proc/PID/fd) and its
 * services on the bus.
 *
 * SB_SOAK_CYCLES (default 200) sets the plug/unplug soak length.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include "tests/support/simproc.h"
#include "tests/publish/bus_fixture.h"
#include "tests/hotplug/mockdev.h"

extern char **environ;

static UMockdevTestbed *tb;
static char dir[128];
static char logpath[256];
static char confpath[256];
static pid_t daemon_pid;
static struct tb_bus bus;
static char preload[512]; /* LD_PRELOAD for the daemon only */
static char **plain_env;  /* environ without LD_PRELOAD and UMOCKDEV_DIR */
static char **mock_env;   /* environ with LD_PRELOAD */

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
	char *argv[] = {exe,         "-v", "-c", confpath, "--state-dir", statedir, "--bus-address",
			bus.address, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	/* UMOCKDEV_DIR (set by the testbed) and LD_PRELOAD (from ctest) */
	int r = posix_spawn(&daemon_pid, exe, &fa, NULL, argv, mock_env);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return -r;
	return wait_log_count("running (config", 1, 20000) ? 0 : -ETIMEDOUT;
}

/* SIGTERM; the daemon must exit 0 (ASan turns a leak into a failure status) within 10 s. */
static int stop_daemon(void)
{
	uint64_t t0 = time_mono_ms();
	kill(daemon_pid, SIGTERM);
	uint64_t deadline = t0 + 10000;
	int st;
	while (waitpid(daemon_pid, &st, WNOHANG) == 0) {
		if (time_mono_ms() > deadline) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, &st, 0);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, 10);
	}
	fprintf(stderr, "\n  SIGTERM -> exit in %llu ms\n",
		(unsigned long long)(time_mono_ms() - t0));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "\n  daemon %s %d\n",
			WIFEXITED(st) ? "exit status" : "killed by signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void dump_fds(void)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)daemon_pid);
	DIR *d = opendir(p);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char lp[384], target[256];
		snprintf(lp, sizeof(lp), "%s/%s", p, e->d_name);
		ssize_t n = readlink(lp, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "    fd %s -> %s\n", e->d_name, target);
	}
	if (d)
		closedir(d);
}

static bool wait_fds(int want, unsigned ms)
{
	uint64_t deadline = time_mono_ms() + ms;
	do {
		if (proc_fds(daemon_pid) == want)
			return true;
		poll(NULL, 0, 10);
	} while (time_mono_ms() < deadline);
	fprintf(stderr, "\n  fds %d, wanted %d\n", proc_fds(daemon_pid), want);
	dump_fds();
	return false;
}

/* The thread id of the daemon's thread called name, 0 when there is none. */
static int thread_named(const char *name)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/task", (int)daemon_pid);
	DIR *d = opendir(p);
	struct dirent *e;
	int tid = 0;
	while (d && !tid && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char cp[384], comm[32] = "";
		snprintf(cp, sizeof(cp), "%s/%s/comm", p, e->d_name);
		FILE *f = fopen(cp, "re");
		if (f && fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (strcmp(comm, name) == 0)
				tid = atoi(e->d_name);
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return tid;
}

static bool wait_thread_named(const char *name, unsigned ms)
{
	uint64_t deadline = time_mono_ms() + ms;
	do {
		if (thread_named(name))
			return true;
		poll(NULL, 0, 10);
	} while (time_mono_ms() < deadline);
	fprintf(stderr, "\n  no thread named '%s'\n", name);
	return false;
}

/* environ minus the variables that make a child part of the testbed (drop) or all of it. */
static char **env_copy(bool keep_mock)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **e = calloc(n + 2, sizeof(*e));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "LD_PRELOAD=", 11) == 0)
			continue;
		if (!keep_mock && strncmp(environ[i], "UMOCKDEV_DIR=", 13) == 0)
			continue;
		e[k++] = environ[i];
	}
	if (keep_mock && preload[0])
		e[k++] = preload;
	return e;
}

struct sim {
	struct sb_simproc proc;
	char link[256];
};

/* `serialbattery simulate --bms bms --link $UMOCKDEV_DIR/dev/tty`, outside the testbed. */
static int sim_start(const char *bms, const char *tty, struct sim *ret)
{
	const char *bin = getenv("SB_BINARY_DIR");
	char exe[512];
	snprintf(exe, sizeof(exe), "%s/tools/serialbattery", bin ? bin : ".");
	snprintf(ret->link, sizeof(ret->link), "%s/dev/%s", getenv("UMOCKDEV_DIR"), tty);
	char *argv[] = {exe, "simulate", "--bms", (char *)bms, "--link", ret->link, NULL};
	return sb_simproc_start(&ret->proc, argv, plain_env);
}

static void sim_stop(struct sim *s)
{
	sb_simproc_stop(&s->proc);
}

/* /DeviceInstance of a battery service, waiting for it to appear; -1 when it does not. */
static int device_instance(const char *service, unsigned ms)
{
	DBusConnection *c = tb_connect(bus.address);
	int inst = -1;
	uint64_t deadline = time_mono_ms() + ms;
	do {
		struct tb_val v;
		if (c && tb_get_value(c, service, "/DeviceInstance", &v) == 0 && v.type == 'i') {
			inst = v.i;
			break;
		}
		poll(NULL, 0, 50);
	} while (time_mono_ms() < deadline);
	tb_disconnect(c);
	if (inst < 0)
		fprintf(stderr, "\n  no /DeviceInstance on %s\n", service);
	return inst;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* best effort: a leftover temp file is no failure */
	return 0;
}

static void teardown(void)
{
	if (bus.daemon) {
		tb_settings_stop(&bus);
		tb_bus_stop(&bus);
	}
	free(plain_env);
	free(mock_env);
	if (tb)
		g_object_unref(tb);
	if (dir[0])
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
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
	const char *lp = getenv("LD_PRELOAD");
	if (lp)
		snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lp);
	/* only the daemon runs in the testbed; bus, settings and simulators do not */
	unsetenv("LD_PRELOAD");
	tb = umockdev_testbed_new();
	if (!umockdev_in_mock_environment())
		return -1;
	char devdir[300];
	snprintf(devdir, sizeof(devdir), "%s/dev", getenv("UMOCKDEV_DIR"));
	mkdir(devdir, 0755);
	atexit(teardown);
	plain_env = env_copy(false);
	mock_env = env_copy(true);
	if (tb_bus_start(&bus) < 0 || tb_settings_start(&bus) < 0)
		return -1;
	return 0;
}

static void test_plug_unplug_replug(void)
{
	CU_ASSERT_FATAL(setup() == 0);
	write_conf("daemon = { log_level = \"info\"; };\n");
	struct mock_adapter ch340, ftdi, ved;
	struct sim jk, jbd;
	/* present before the daemon starts: found by enumeration */
	CU_ASSERT_FATAL(sim_start("jk", "ttyUSB0", &jk) == 0);
	CU_ASSERT_FATAL(mock_plug_linked(tb, MOCK_CH340, 1, "ttyUSB0", &ch340) == 0);
	CU_ASSERT_FATAL(start_daemon() == 0);
	CU_ASSERT(wait_log_count(
		"ttyUSB0: worker started (identity path-pci-0000:00:14.0-usb-0:1:1.0)", 1, 10000));
	CU_ASSERT(wait_log_count("ttyUSB0: jk at 115200 baud", 1, 20000));
	CU_ASSERT(wait_thread_named("sb-worker:USB0", 10000));
	int base = proc_threads(daemon_pid) - 1; /* main + publisher, without the worker */
	CU_ASSERT(device_instance("com.victronenergy.battery.ttyUSB0", 20000) >= 0);

	/* plugged later: found by the monitor */
	CU_ASSERT_FATAL(sim_start("jbd", "ttyUSB1", &jbd) == 0);
	CU_ASSERT_FATAL(mock_plug_linked(tb, MOCK_FTDI, 2, "ttyUSB1", &ftdi) == 0);
	CU_ASSERT(wait_log_count("ttyUSB1: worker started (identity FTDI_FT232R_USB_UART_A10K1234)",
				 1, 10000));
	CU_ASSERT(wait_log_count("ttyUSB1: jbd at 9600 baud", 1, 20000));
	CU_ASSERT(wait_threads(base + 2, 10000));
	CU_ASSERT(wait_thread_named("sb-worker:USB1", 10000));
	int inst = device_instance("com.victronenergy.battery.ttyUSB1", 20000);
	CU_ASSERT(inst >= 0);

	/* the Victron cable is never claimed */
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_VEDIRECT, 3, "ttyUSB2", &ved) == 0);
	CU_ASSERT(wait_log_count("ttyUSB2: not claimed: a Victron interface", 1, 10000));
	CU_ASSERT(count_in_log("ttyUSB2: worker started") == 0);
	CU_ASSERT(proc_threads(daemon_pid) == base + 2);

	/* unplug the FTDI: its worker stops, the CH340's keeps running */
	int tid0 = thread_named("sb-worker:USB0");
	uint64_t t0 = time_mono_ms();
	mock_unplug(tb, &ftdi);
	CU_ASSERT(wait_threads(base + 1, 10000));
	fprintf(stderr, "\n  unplug -> worker joined in %llu ms\n",
		(unsigned long long)(time_mono_ms() - t0));
	sim_stop(&jbd);
	CU_ASSERT(count_in_log("ttyUSB1: released (device removed)") == 1);
	CU_ASSERT(thread_named("sb-worker:USB1") == 0);
	CU_ASSERT(thread_named("sb-worker:USB0") == tid0);
	CU_ASSERT(count_in_log("ttyUSB0: released") == 0);

	/* replug on another ttyUSB number: same identity, remembered protocol, same instance */
	CU_ASSERT_FATAL(sim_start("jbd", "ttyUSB7", &jbd) == 0);
	CU_ASSERT_FATAL(mock_plug_linked(tb, MOCK_FTDI, 2, "ttyUSB7", &ftdi) == 0);
	CU_ASSERT(wait_log_count("ttyUSB7: worker started (identity FTDI_FT232R_USB_UART_A10K1234)",
				 1, 10000));
	CU_ASSERT(wait_log_count("ttyUSB7: jbd at 9600 baud (remembered)", 1, 20000));
	CU_ASSERT(wait_threads(base + 2, 10000));
	CU_ASSERT(device_instance("com.victronenergy.battery.ttyUSB7", 20000) == inst);

	/* SIGHUP with a bad file: old config kept, error names file and line */
	write_conf("daemon = { log_level = \"info\"; };\nudev = { exclude = [\"bogus\"]; };\n");
	kill(daemon_pid, SIGHUP);
	char want[400];
	snprintf(want, sizeof(want), "keeping the running config: %s:2: udev.exclude", confpath);
	CU_ASSERT(wait_log_count(want, 1, 10000));
	CU_ASSERT(proc_threads(daemon_pid) == base + 2);
	CU_ASSERT(count_in_log("settings changed") == 0);

	/* SIGHUP with a misspelt key: refused the same way, the default never runs */
	write_conf("daemon = { log_level = \"info\"; };\nudev = { claim_ubs = false; };\n");
	kill(daemon_pid, SIGHUP);
	snprintf(want, sizeof(want),
		 "keeping the running config: %s:2: udev.claim_ubs: unknown, did you mean "
		 "'claim_usb'?",
		 confpath);
	CU_ASSERT(wait_log_count(want, 1, 10000));
	CU_ASSERT(proc_threads(daemon_pid) == base + 2);
	CU_ASSERT(count_in_log("settings changed") == 0);

	/* SIGHUP changing the FTDI's port settings: only its worker restarts */
	int tid7 = thread_named("sb-worker:USB7");
	write_conf("daemon = { log_level = \"info\"; };\n"
		   "serial = { ports = ( { match = \"FTDI_FT232R_USB_UART_A10K1234\"; "
		   "poll_interval = 2.0; } ); };\n");
	kill(daemon_pid, SIGHUP);
	CU_ASSERT(wait_log_count("ttyUSB7: settings changed, restarting its worker", 1, 10000));
	CU_ASSERT(wait_log_count("ttyUSB7: jbd at 9600 baud (remembered)", 2, 20000));
	CU_ASSERT(wait_threads(base + 2, 10000));
	int tid7b = thread_named("sb-worker:USB7");
	CU_ASSERT(tid7b != 0 && tid7b != tid7);
	CU_ASSERT(thread_named("sb-worker:USB0") == tid0);
	CU_ASSERT(count_in_log("ttyUSB0: settings changed") == 0);

	/* SIGHUP with a good file that excludes the CH340: only its worker stops */
	write_conf("udev = { exclude = [\"1a86:7523\"]; };\n"
		   "serial = { ports = ( { match = \"FTDI_FT232R_USB_UART_A10K1234\"; "
		   "poll_interval = 2.0; } ); };\n");
	kill(daemon_pid, SIGHUP);
	CU_ASSERT(wait_log_count("ttyUSB0: released (matches a udev.exclude rule)", 1, 10000));
	CU_ASSERT(wait_threads(base + 1, 10000));
	CU_ASSERT(count_in_log("ttyUSB7: released") == 0);
	CU_ASSERT(thread_named("sb-worker:USB7") == tid7b);

	/* SIGTERM while polling (ttyUSB7 detected its pack above): clean and prompt */
	CU_ASSERT(stop_daemon() == 0);
	CU_ASSERT(count_in_log("stopped") == 1);
	mock_unplug(tb, &ch340);
	mock_unplug(tb, &ved);
	mock_unplug(tb, &ftdi);
	sim_stop(&jk);
	sim_stop(&jbd);
}

/* SIGTERM while a worker is in detection (nothing answers on umockdev's own pty). */
static void test_sigterm_detecting(void)
{
	CU_ASSERT_FATAL(setup() == 0);
	write_conf("daemon = { log_level = \"info\"; };\n");
	struct mock_adapter a;
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_CP2102, 6, "ttyUSB40", &a) == 0);
	CU_ASSERT_FATAL(start_daemon() == 0);
	CU_ASSERT(wait_log_count("ttyUSB40: worker started", 1, 10000));
	CU_ASSERT(wait_log_count("debug detect ", 1, 10000)); /* probing, not idle */
	CU_ASSERT(wait_thread_named("sb-worker:USB40", 10000));
	CU_ASSERT(stop_daemon() == 0);
	CU_ASSERT(count_in_log("ttyUSB40: released (stopping)") == 1);
	CU_ASSERT(count_in_log("stopped") == 1);
	mock_unplug(tb, &a);
}

/* The port table's source kinds: a tty from udev and a configured path, each named in the log. */
static void test_source_kinds(void)
{
	CU_ASSERT_FATAL(setup() == 0);
	struct sim jbd;
	/* a simulator's link that udev never reports: reached by its configured path */
	CU_ASSERT_FATAL(sim_start("jbd", "bms9", &jbd) == 0);
	char conf[600];
	snprintf(conf, sizeof(conf),
		 "daemon = { log_level = \"info\"; };\n"
		 "serial = { ports = ( { path = \"%s\"; bms = \"jbd\"; } ); };\n",
		 jbd.link);
	write_conf(conf);
	struct mock_adapter a;
	CU_ASSERT_FATAL(mock_plug(tb, MOCK_CP2102, 7, "ttyUSB41", &a) == 0);
	CU_ASSERT_FATAL(start_daemon() == 0);
	char want[400];
	snprintf(want, sizeof(want), "bms9: claimed: configured port %s", jbd.link);
	CU_ASSERT(wait_log_count(want, 1, 10000));
	snprintf(want, sizeof(want),
		 "bms9: worker started (identity %s, bms jbd), source: configured path", jbd.link);
	CU_ASSERT(wait_log_count(want, 1, 10000));
	CU_ASSERT(wait_log_count("bms9: jbd at 9600 baud", 1, 20000));
	CU_ASSERT(wait_log_count("ttyUSB41: worker started (identity ", 1, 10000));
	CU_ASSERT(wait_log_count("), source: udev tty", 1, 10000));
	CU_ASSERT(count_in_log("ttyUSB41: worker started") == 1);
	CU_ASSERT(count_in_log("source: ") == 2);
	CU_ASSERT(stop_daemon() == 0);
	mock_unplug(tb, &a);
	sim_stop(&jbd);
}

static void test_soak(void)
{
	const char *env = getenv("SB_SOAK_CYCLES");
	int cycles = env ? atoi(env) : 200;
	CU_ASSERT_FATAL(setup() == 0);
	/* A gone battery's service stays up for gone_remove_after_s (the comms-loss
	 * policy runs meanwhile), with its own bus connection: keep that short so
	 * the fd count can come back to its start value. The aggregate service
	 * is sticky once up (Venus must not see it flap): bank_mode "on" brings it
	 * up with the first pack, before the baseline, and every cycle's pack
	 * joins and leaves it. */
	write_conf("daemon = { log_level = \"info\"; };\n"
		   "publish = { gone_remove_after_s = 1; bank_mode = \"on\"; };\n");
	struct mock_adapter keep, a;
	struct sim ks, s;
	CU_ASSERT_FATAL(sim_start("jk", "ttyUSB3", &ks) == 0);
	CU_ASSERT_FATAL(mock_plug_linked(tb, MOCK_CP2102, 4, "ttyUSB3", &keep) == 0);
	CU_ASSERT_FATAL(start_daemon() == 0);
	CU_ASSERT(wait_log_count("ttyUSB3: jk at 115200 baud", 1, 20000));
	CU_ASSERT(device_instance("com.victronenergy.battery.ttyUSB3", 20000) >= 0);
	CU_ASSERT(device_instance("com.victronenergy.battery.aggregate", 20000) >= 0);
	int threads0 = proc_threads(daemon_pid), fds0 = proc_fds(daemon_pid);
	if (getenv("SB_SOAK_VERBOSE"))
		dump_fds();
	uint64_t t0 = time_mono_ms();
	for (int i = 0; i < cycles; i++) {
		/* Odd cycles: a new ttyUSB number each time (the publisher moves the
		 * battery's service); even ones: the same name again, like the kernel
		 * giving the freed number back. (Only a linked node can be reused:
		 * umockdev keeps the pty of a name it made.) */
		char tty[32], want[96];
		int reused = i % 2 == 0;
		snprintf(tty, sizeof(tty), "ttyUSB%d", reused ? 50 : 100 + i);
		CU_ASSERT_FATAL(sim_start("jk", tty, &s) == 0);
		CU_ASSERT_FATAL(mock_plug_linked(tb, MOCK_CH340, 5, tty, &a) == 0);
		int nth = reused ? i / 2 + 1 : 1;
		snprintf(want, sizeof(want), "%s: jk at 115200 baud", tty);
		CU_ASSERT_FATAL(wait_log_count(want, nth, 20000));
		if (i == cycles - 1) {
			/* the last pack is on the bus before it goes, so its removal
			 * below is the publisher's "gone" path, not a race with it */
			char svc[96];
			snprintf(svc, sizeof(svc), "com.victronenergy.battery.%s", tty);
			CU_ASSERT(device_instance(svc, 20000) >= 0);
		}
		mock_unplug(tb, &a);
		CU_ASSERT_FATAL(wait_threads(threads0, 10000));
		sim_stop(&s);
		snprintf(want, sizeof(want), "%s: released (device removed)", tty);
		CU_ASSERT_FATAL(count_in_log(want) == nth);
	}
	uint64_t took = time_mono_ms() - t0;
	/* the publisher drops a gone battery's service (and its connection) on its
	 * own thread, gone_remove_after_s later: wait for it, then count fds */
	CU_ASSERT(wait_log_count("gone, removing its service", 1, 20000));
	CU_ASSERT(wait_fds(fds0, 20000));
	int threads1 = proc_threads(daemon_pid), fds1 = proc_fds(daemon_pid);
	fprintf(stderr, "\n  soak %d cycles in %llu ms: threads %d -> %d, fds %d -> %d\n", cycles,
		(unsigned long long)took, threads0, threads1, fds0, fds1);
	CU_ASSERT(count_in_log("gone, removing its service") >= 1);
	CU_ASSERT(threads1 == threads0);
	CU_ASSERT(fds1 == fds0);
	CU_ASSERT(count_in_log("ttyUSB3: released") == 0);
	CU_ASSERT(stop_daemon() == 0); /* under ASan a leak fails this */
	mock_unplug(tb, &keep);
	sim_stop(&ks);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"plug, detect, unplug, replug, Victron cable, SIGHUP, SIGTERM polling",
		 test_plug_unplug_replug},
		{"SIGTERM during detection", test_sigterm_detecting},
		{"source kinds: udev tty and configured path", test_source_kinds},
		{"soak: plug/detect/unplug cycles, no fd or thread leak", test_soak},
		{NULL, NULL},
	};
	return sb_add_suite("supervisor_hotplug", tests);
}
