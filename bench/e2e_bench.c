/* SPDX-License-Identifier: MIT */
/*
 * Whole-daemon benchmark (not a test): plays N BMSes on pseudo-terminals with
 * the families' own simulators (bms/sim), starts the real serialbatteryd against a
 * private bus, and measures from one process, on one clock:
 *   - start-to-service: fork/exec of the daemon -> NameOwnerChanged of the
 *     first and of the last battery service;
 *   - latency: write() of the last reply byte of a poll cycle -> arrival of
 *     the ItemsChanged that carries the new /Dc/0/Current (median, p99);
 *   - D-Bus messages per second sent by the daemon's connections;
 *   - the daemon's CPU seconds per battery-hour and its peak resident memory;
 *   - per thread (grouped by name: sb-worker, sb-publish, the main thread):
 *     CPU and wake-ups (voluntary + involuntary context switches, from
 *     /proc/<pid>/task/<tid>/schedstat and status) per poll cycle;
 *   - with FLOOR given, the same per-thread figures of bench/floor.c polling
 *     N packs of its own side by side with the daemon, over the same window
 *     (one ItemsChanged per cycle on the same bus), and the ratio daemon/floor:
 *     both see the same machine (its clock speed, idle states and other load
 *     move both figures alike), where runs one after the other scattered the
 *     ratio by tens of per cent.
 * Every reply carries a new current, so every cycle changes values.
 *
 * Replies go out at the line rate, as a UART delivers them: one byte per 10
 * (8E1: 11) bit times at the family's first baud, each written when due
 * (SB_BENCH_PACE=off: each reply in one write, as an adapter that buffers a
 * whole packet does). A reader that polls per chunk pays one wake-up per byte.
 *
 * usage: e2e_bench DAEMON BUS_ADDRESS WORKDIR BMS N SECONDS POLL_S [FLOOR]
 */
#include <dbus/dbus.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bms/bms.h"
#include "bms/sim/sim.h"

#define MAXB 32
#define MAXS 100000
#define MAXT 64

struct batt {
	int master, slave;
	char link[256];
	char tty[64];
	struct bms_snapshot snap;
	uint8_t buf[1024];
	size_t len;
	double last_write;
	bool pending;      /* a reply was written and no signal has matched it yet */
	uint8_t out[4096]; /* the reply going out at the line rate */
	size_t out_len, out_pos;
	double out_t0; /* when its first byte went out */
	char owner[64];
	double t_service;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void plausible(struct bms_snapshot *s, unsigned i)
{
	memset(s, 0, sizeof(*s));
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		   BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_MOSFET_TEMP | BMS_V_FETS;
	s->cell_count = 16;
	for (int c = 0; c < 16; c++)
		s->cell_mv[c] = (uint16_t)(3300 + c);
	s->voltage_mv = 52920;
	s->current_ma = 1000 + (int32_t)i * 100;
	s->soc_cpct = 7000;
	s->capacity_remain_mah = 196000;
	s->capacity_full_mah = 280000;
	s->cycles = 10;
	s->temp_count = 2;
	s->temp_dc[0] = 215;
	s->temp_dc[1] = 220;
	s->mosfet_temp_dc = 300;
	s->charge_fet = s->discharge_fet = true;
	s->valid |= BMS_V_SERIAL | BMS_V_MODEL | BMS_V_SW_VERSION | BMS_V_HW_VERSION;
	snprintf(s->serial, sizeof(s->serial), "BENCH%02u", i);
	snprintf(s->model, sizeof(s->model), "BENCH-16S-280AH");
	snprintf(s->sw_version, sizeof(s->sw_version), "2.3");
	snprintf(s->hw_version, sizeof(s->hw_version), "1.0");
}

static int open_pty(struct batt *b, const char *dir, unsigned i)
{
	b->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (b->master < 0 || grantpt(b->master) < 0 || unlockpt(b->master) < 0)
		return -1;
	const char *sn = ptsname(b->master);
	b->slave = open(sn, O_RDWR | O_NOCTTY | O_CLOEXEC); /* keeps the pty up between opens */
	struct termios t;
	tcgetattr(b->master, &t);
	cfmakeraw(&t);
	tcsetattr(b->master, TCSANOW, &t);
	snprintf(b->tty, sizeof(b->tty), "bms%02u", i);
	snprintf(b->link, sizeof(b->link), "%s/%s", dir, b->tty);
	unlink(b->link);
	return symlink(sn, b->link);
}

/* CPU time of every thread of pid in ns (schedstat: ns resolution, ticks are too coarse). */
static long long proc_cpu_ns(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
	DIR *d = opendir(p);
	if (!d)
		return -1;
	long long sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char f[320];
		snprintf(f, sizeof(f), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		FILE *fp = fopen(f, "re");
		long long ns = 0;
		if (fp && fscanf(fp, "%lld", &ns) == 1)
			sum += ns;
		if (fp)
			fclose(fp);
	}
	closedir(d);
	return sum;
}

static long proc_status_kb(pid_t pid, const char *key)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

struct task {
	int tid;
	char name[32];
	long long cpu_ns, wakes, vol; /* wakes: voluntary + involuntary switches */
};

/* Every thread of pid: name, CPU (schedstat) and context switches (status). */
static int tasks_read(pid_t pid, struct task *t, int max)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
	DIR *d = opendir(p);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		struct task *k = &t[n];
		memset(k, 0, sizeof(*k));
		k->tid = atoi(e->d_name);
		char f[320], line[256];
		snprintf(f, sizeof(f), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		FILE *fp = fopen(f, "re");
		if (fp && fgets(k->name, sizeof(k->name), fp))
			k->name[strcspn(k->name, "\n")] = '\0';
		if (fp)
			fclose(fp);
		/* one group per kind of thread: sb-worker:bms03 -> sb-worker */
		k->name[strcspn(k->name, ":")] = '\0';
		snprintf(f, sizeof(f), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		fp = fopen(f, "re");
		if (fp && fscanf(fp, "%lld", &k->cpu_ns) != 1)
			k->cpu_ns = 0;
		if (fp)
			fclose(fp);
		snprintf(f, sizeof(f), "/proc/%d/task/%s/status", (int)pid, e->d_name);
		fp = fopen(f, "re");
		while (fp && fgets(line, sizeof(line), fp)) {
			long long v;
			if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1) {
				k->wakes += v;
				k->vol = v;
			} else if (sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1) {
				k->wakes += v;
			}
		}
		if (fp)
			fclose(fp);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * Per thread group, between two readings: threads, CPU us and wake-ups per
 * poll cycle per thread. Returns the process's CPU us per battery-cycle.
 */
static double tasks_report(const char *who, const struct task *a, int na, const struct task *b,
			   int nb, double cycles, unsigned n)
{
	char seen[MAXT][32];
	int ns = 0;
	double total = 0;
	for (int i = 0; i < nb; i++) {
		bool dup = false;
		for (int k = 0; k < ns; k++)
			dup |= strcmp(seen[k], b[i].name) == 0;
		if (dup)
			continue;
		snprintf(seen[ns++], sizeof(seen[0]), "%s", b[i].name);
		int threads = 0;
		double cpu = 0, wakes = 0, vol = 0;
		for (int j = 0; j < nb; j++) {
			if (strcmp(b[j].name, b[i].name) != 0)
				continue;
			for (int k = 0; k < na; k++)
				if (a[k].tid == b[j].tid) {
					threads++;
					cpu += (double)(b[j].cpu_ns - a[k].cpu_ns) / 1e3;
					wakes += (double)(b[j].wakes - a[k].wakes);
					vol += (double)(b[j].vol - a[k].vol);
				}
		}
		if (!threads)
			continue;
		total += cpu;
		printf("%-6s thread %-14s x%-2d CPU %8.1f us/cycle, %6.2f wake-ups/cycle per "
		       "thread (%.2f voluntary)\n",
		       who, b[i].name, threads, cpu / cycles / threads, wakes / cycles / threads,
		       vol / cycles / threads);
	}
	double per = total / cycles / n;
	printf("%-6s total                   CPU %8.1f us/s = %.1f us per battery-cycle\n", who,
	       total / cycles, per);
	return per;
}

/* Reply bytes due by now go out: one byte per character time since the first. */
static void pace(struct batt *b, double now, double byte_s)
{
	if (b->out_pos >= b->out_len)
		return;
	size_t due = byte_s > 0 ? (size_t)((now - b->out_t0) / byte_s) + 1 : b->out_len;
	if (due > b->out_len)
		due = b->out_len;
	if (due <= b->out_pos)
		return;
	ssize_t w = write(b->master, b->out + b->out_pos, due - b->out_pos);
	if (w > 0)
		b->out_pos += (size_t)w;
	if (b->out_pos >= b->out_len) {
		b->last_write = now_s();
		b->pending = true;
		b->snap.current_ma += 10; /* the next cycle carries a new value */
	}
}

/* Serve every pty (requests in, replies out at the line rate) until `until` or a bus message. */
static int serve(struct batt *b, unsigned n, const struct bms_driver *drv, double byte_s, int dfd,
		 double until)
{
	struct pollfd fds[MAXB + 1];
	for (unsigned i = 0; i < n; i++)
		fds[i] = (struct pollfd){.fd = b[i].master, .events = POLLIN};
	fds[n] = (struct pollfd){.fd = dfd, .events = POLLIN};
	double now = now_s(), wake = until;
	for (unsigned i = 0; i < n; i++)
		if (b[i].out_pos < b[i].out_len) {
			double due = b[i].out_t0 + (double)b[i].out_pos * byte_s;
			if (due < wake)
				wake = due;
		}
	double d = wake - now;
	if (d < 0)
		d = 0;
	struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
	if (ppoll(fds, dfd >= 0 ? n + 1 : n, &ts, NULL) < 0 && errno != EINTR)
		return -1;
	now = now_s();
	for (unsigned i = 0; i < n; i++) {
		pace(&b[i], now, byte_s);
		if (!(fds[i].revents & POLLIN))
			continue;
		ssize_t r = read(b[i].master, b[i].buf + b[i].len, sizeof(b[i].buf) - b[i].len);
		if (r <= 0)
			continue;
		b[i].len += (size_t)r;
		int len = 0;
		/* skip what came before the request (other drivers' probes) */
		for (size_t off = 0; off < b[i].len && len <= 0; off++)
			len = bms_sim_respond(
				drv, &b[i].snap, drv->addresses ? drv->addresses[0] : 0,
				b[i].buf + off, b[i].len - off, b[i].out, sizeof(b[i].out));
		if (len > 0) {
			b[i].len = 0;
			b[i].out_len = (size_t)len;
			b[i].out_pos = 0;
			b[i].out_t0 = now_s();
			pace(&b[i], b[i].out_t0, byte_s);
		} else if (b[i].len >= sizeof(b[i].buf) - 64) {
			b[i].len = 0;
		}
	}
	return dfd >= 0 && (fds[n].revents & POLLIN) ? 1 : 0;
}

/* bench/floor.c on its own n packs (fb), the same line rate and poll interval; its pid. */
static pid_t start_floor(const char *floor_bin, const struct bms_driver *drv, double poll_s,
			 double secs, const char *addr, struct batt *fb, unsigned n)
{
	if (!floor_bin)
		return -1;
	char iv[32], secs_s[32];
	snprintf(iv, sizeof(iv), "%.0f", poll_s * 1000);
	snprintf(secs_s, sizeof(secs_s), "%.0f", secs + 30);
	char *fargv[MAXB + 10];
	int k = 0;
	fargv[k++] = (char *)floor_bin;
	fargv[k++] = "--bms";
	fargv[k++] = (char *)drv->name;
	fargv[k++] = "--interval-ms";
	fargv[k++] = iv;
	fargv[k++] = "--seconds";
	fargv[k++] = secs_s;
	fargv[k++] = "--bus"; /* one ItemsChanged per cycle, as the daemon sends */
	fargv[k++] = (char *)addr;
	for (unsigned i = 0; i < n; i++)
		fargv[k++] = fb[i].link;
	fargv[k] = NULL;
	pid_t fp = fork();
	if (fp == 0) {
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (nul >= 0)
			dup2(nul, STDOUT_FILENO);
		execv(floor_bin, fargv);
		_exit(127);
	}
	return fp;
}

/* Does an ItemsChanged carry /Dc/0/Current? */
static bool has_current(DBusMessage *m)
{
	DBusMessageIter it, arr;
	if (!dbus_message_iter_init(m, &it) ||
	    dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_ARRAY)
		return false;
	dbus_message_iter_recurse(&it, &arr);
	while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter e;
		dbus_message_iter_recurse(&arr, &e);
		const char *path;
		dbus_message_iter_get_basic(&e, &path);
		if (strcmp(path, "/Dc/0/Current") == 0)
			return true;
		dbus_message_iter_next(&arr);
	}
	return false;
}

int main(int argc, char **argv)
{
	if (argc != 8 && argc != 9) {
		fprintf(stderr, "usage: e2e_bench DAEMON BUS_ADDRESS WORKDIR BMS N SECONDS POLL_S "
				"[FLOOR]\n");
		return 2;
	}
	const char *daemon = argv[1], *addr = argv[2], *dir = argv[3];
	const struct bms_driver *drv = bms_driver_find(argv[4]);
	unsigned n = (unsigned)atoi(argv[5]);
	double secs = atof(argv[6]), poll_s = atof(argv[7]);
	if (!drv || !bms_sim_find(drv->name) || n == 0 || n > MAXB) {
		fprintf(stderr, "bad driver or count\n");
		return 2;
	}
	const char *floor_bin = argc == 9 ? argv[8] : NULL;
	const char *pace_env = getenv("SB_BENCH_PACE");
	bool paced = !pace_env || strcmp(pace_env, "off") != 0;
	double byte_s = paced ? (bms_driver_framing(drv) == BMS_8E1 ? 11.0 : 10.0) /
					(double)bms_driver_bauds(drv)[0]
			      : 0;
	static struct task ta[MAXT], tb[MAXT];
	int na = 0, nb = 0;
	double t_tasks = 0;
	static struct batt b[MAXB];
	/* the floor's packs after the daemon's */
	unsigned nall = floor_bin ? 2 * n : n;
	if (nall > MAXB) {
		fprintf(stderr, "at most %d batteries with the floor\n", MAXB / 2);
		return 2;
	}
	for (unsigned i = 0; i < nall; i++) {
		if (open_pty(&b[i], dir, i) < 0) {
			perror("pty");
			return 1;
		}
		plausible(&b[i].snap, i);
	}
	char conf[512];
	snprintf(conf, sizeof(conf), "%s/bench.conf", dir);
	FILE *cf = fopen(conf, "we");
	fprintf(cf, "daemon = { state_dir = \"%s/state\"; max_batteries = %u; };\n", dir, n + 1);
	fprintf(cf, "udev = { claim_usb = false; };\nserial = { ports = (\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(cf, "  { path = \"%s\"; poll_interval = %g; }%s\n", b[i].link, poll_s,
			i + 1 < n ? "," : "");
	fprintf(cf, "); };\npublish = { bank_mode = \"off\"; };\n");
	fclose(cf);

	DBusError err;
	dbus_error_init(&err);
	DBusConnection *c = dbus_connection_open_private(addr, &err);
	if (!c || !dbus_bus_register(c, &err)) {
		fprintf(stderr, "bus: %s\n", err.message);
		return 1;
	}
	dbus_bus_add_match(
		c, "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'", NULL);
	dbus_bus_add_match(c, "type='signal',interface='com.victronenergy.BusItem'", NULL);
	dbus_connection_flush(c);
	int dfd = -1;
	dbus_connection_get_unix_fd(c, &dfd);

	double t_exec = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		char logp[512];
		snprintf(logp, sizeof(logp), "%s/daemon.log", dir);
		int lfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (lfd >= 0)
			dup2(lfd, STDERR_FILENO);
		execl(daemon, daemon, "-c", conf, "--no-udev", "--bus-address", addr,
		      getenv("SB_BENCH_DEBUG") ? "-vv" : "-q", (char *)NULL);
		_exit(127);
	}

	static double lat[MAXS];
	size_t nlat = 0;
	unsigned services = 0;
	double t_first = 0, t_all = 0, window_start = 0, window_end = 0;
	long long cpu0 = -1, cpu1 = -1;
	unsigned long msgs = 0;
	pid_t fp = -1;
	static struct task fa[MAXT], fb[MAXT];
	int nfa = 0, nfb = 0;

	for (;;) {
		double now = now_s();
		if (window_start == 0 && now - t_exec > 30) {
			fprintf(stderr, "only %u of %u services after 30 s\n", services, n);
			break;
		}
		if (window_start > 0 && now >= window_start + secs) {
			window_end = now;
			cpu1 = proc_cpu_ns(pid);
			nb = tasks_read(pid, tb, MAXT);
			if (fp > 0)
				nfb = tasks_read(fp, fb, MAXT);
			break;
		}
		if (window_start > 0 && na == 0) {
			double w0 = window_start - now_s();
			if (w0 <= 0) {
				na = tasks_read(pid, ta, MAXT);
				if (fp > 0)
					nfa = tasks_read(fp, fa, MAXT);
				t_tasks = now_s();
			}
		}
		int busy = serve(b, nall, drv, byte_s, dfd, now + 0.1);
		if (busy < 0)
			break;
		if (busy) {
			dbus_connection_read_write(c, 0);
			DBusMessage *m;
			while ((m = dbus_connection_pop_message(c))) {
				double t = now_s();
				if (dbus_message_is_signal(m, "org.freedesktop.DBus",
							   "NameOwnerChanged")) {
					const char *name, *old, *nw;
					if (dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &name,
								  DBUS_TYPE_STRING, &old,
								  DBUS_TYPE_STRING, &nw,
								  DBUS_TYPE_INVALID) &&
					    nw[0] &&
					    strncmp(name, "com.victronenergy.battery.", 26) == 0) {
						for (unsigned i = 0; i < n; i++) {
							if (strncmp(name + 26, b[i].tty,
								    strlen(b[i].tty)) == 0 &&
							    !b[i].owner[0]) {
								snprintf(b[i].owner,
									 sizeof(b[i].owner), "%s",
									 nw);
								b[i].t_service = t;
								if (++services == 1)
									t_first = t;
								if (services == n) {
									t_all = t;
									/* the first cycles settle,
									 * the floor's learn */
									fp = start_floor(
										floor_bin, drv,
										poll_s, secs, addr,
										b + n, n);
									window_start = t + 4;
								}
							}
						}
					}
				} else if (dbus_message_get_type(m) == DBUS_MESSAGE_TYPE_SIGNAL &&
					   strcmp(dbus_message_get_interface(m),
						  "com.victronenergy.BusItem") == 0) {
					const char *snd = dbus_message_get_sender(m);
					bool in_window = window_start > 0 && t >= window_start;
					if (in_window && cpu0 < 0)
						cpu0 = proc_cpu_ns(pid);
					for (unsigned i = 0; i < n; i++) {
						if (strcmp(snd, b[i].owner) != 0)
							continue;
						msgs += in_window; /* the daemon's, not the floor's
								    */
						if (in_window && b[i].pending &&
						    dbus_message_is_signal(
							    m, "com.victronenergy.BusItem",
							    "ItemsChanged") &&
						    has_current(m) && nlat < MAXS)
							lat[nlat++] = t - b[i].last_write;
						b[i].pending = false;
					}
				}
				dbus_message_unref(m);
			}
		}
	}
	long hwm = proc_status_kb(pid, "VmHWM"), rss = proc_status_kb(pid, "VmRSS");
	long fhwm = fp > 0 ? proc_status_kb(fp, "VmHWM") : 0;
	int status = 0;
	if (fp > 0) {
		kill(fp, SIGTERM);
		while (waitpid(fp, &status, WNOHANG) == 0)
			serve(b, nall, drv, byte_s, -1, now_s() + 0.1);
	}
	double t_term = now_s();
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	double t_exit = now_s();

	printf("batteries            %u (%s, poll %.2f s)\n", n, drv->name, poll_s);
	printf("start-to-service     first %.0f ms, all %.0f ms\n", (t_first - t_exec) * 1e3,
	       (t_all - t_exec) * 1e3);
	if (window_end > 0 && cpu0 >= 0 && cpu1 >= cpu0) {
		double w = window_end - window_start;
		double cpu = (double)(cpu1 - cpu0) / 1e9;
		printf("window               %.1f s\n", w);
		printf("cpu                  %.3f s = %.4f %% of a core, %.4f %% per battery, "
		       "%.1f us per battery-cycle, %.2f s per battery-hour\n",
		       cpu, cpu / w * 100, cpu / w * 100 / n, cpu / (w / poll_s * n) * 1e6,
		       cpu / n / (w / 3600.0));
		printf("dbus messages        %.2f /s = %.2f per battery per cycle\n",
		       (double)msgs / w, (double)msgs / w * poll_s / n);
	}
	printf("memory               peak RSS %ld KiB, RSS %ld KiB\n", hwm, rss);
	if (nlat) {
		qsort(lat, nlat, sizeof(lat[0]), cmp_double);
		printf("latency              median %.3f ms, p99 %.3f ms, max %.3f ms (%zu "
		       "samples)\n",
		       lat[nlat / 2] * 1e3, lat[(size_t)((double)nlat * 0.99)] * 1e3,
		       lat[nlat - 1] * 1e3, nlat);
	}
	printf("sigterm              exit %d in %.0f ms\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, (t_exit - t_term) * 1e3);
	printf("replies              %s\n",
	       paced ? "paced at the line rate (SB_BENCH_PACE=off: one write each)"
		     : "one write each (SB_BENCH_PACE=off)");
	double daemon_per = 0;
	if (na && nb && window_end > t_tasks)
		daemon_per =
			tasks_report("daemon", ta, na, tb, nb, (window_end - t_tasks) / poll_s, n);
	if (fp > 0 && nfa && nfb) {
		double floor_per =
			tasks_report("floor", fa, nfa, fb, nfb, (window_end - t_tasks) / poll_s, n);
		printf("floor  memory                peak RSS %ld KiB\n", fhwm);
		if (daemon_per > 0 && floor_per > 0)
			printf("ratio  daemon/floor          %.2f (CPU per battery-cycle)\n",
			       daemon_per / floor_per);
	}
	for (unsigned i = 0; i < nall; i++)
		unlink(b[i].link);
	return 0;
}
