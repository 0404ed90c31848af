/* SPDX-License-Identifier: MIT */
#include "wtest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bms/modbus_rtu.h"
#include "bms/sim/sim.h"
#include "common/sbtime.h"
#include "bms/snapshot_json.h"

int wt_pty(char *slave, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, slave, len) != 0) {
		int e = -errno;
		close(m);
		return e;
	}
	/* raw on the master side too: no echo, no CR/LF games */
	struct termios t;
	if (tcgetattr(m, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(m, TCSANOW, &t);
	}
	return m;
}

int wt_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

/*
 * Our threads, by name: every thread the daemon makes is named "sb-...".
 * Counting all of /proc/self/task would also count a sanitizer's own
 * background thread, which TSan starts at a moment of its choosing.
 */
int wt_count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], comm[32] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, "sb-", 3) == 0)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

void wt_snapshot(struct bms_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->valid = BMS_V_VOLTAGE | BMS_V_CURRENT | BMS_V_SOC | BMS_V_CAP_REMAIN | BMS_V_CAP_FULL |
		   BMS_V_CYCLES | BMS_V_CELLS | BMS_V_TEMPS | BMS_V_FETS;
	s->cell_count = 16;
	int32_t sum = 0;
	for (int i = 0; i < 16; i++) {
		s->cell_mv[i] = (uint16_t)(3300 + i);
		sum += s->cell_mv[i];
	}
	s->voltage_mv = sum;
	s->current_ma = -5230;
	s->soc_cpct = 7300;
	s->capacity_full_mah = 280000;
	s->capacity_design_mah = 280000;
	s->valid |= BMS_V_CAP_DESIGN;
	s->capacity_remain_mah = 204400;
	s->cycles = 42;
	s->temp_count = 2;
	s->temp_dc[0] = 215;
	s->temp_dc[1] = 223;
	s->charge_fet = true;
	s->discharge_fet = true;
	s->valid |= BMS_V_MODEL | BMS_V_SERIAL | BMS_V_SW_VERSION | BMS_V_HW_VERSION;
	snprintf(s->model, sizeof(s->model), "SB-TEST-16S");
	snprintf(s->serial, sizeof(s->serial), "SBT0001");
	snprintf(s->sw_version, sizeof(s->sw_version), "1.2.3");
	snprintf(s->hw_version, sizeof(s->hw_version), "1.0");
}

const char *wt_tool(void)
{
	static char path[512];
	const char *b = getenv("SB_BINARY_DIR");
	if (!b)
		return NULL;
	snprintf(path, sizeof(path), "%s/tools/serialbattery", b);
	return path;
}

bool wt_have_simulator(void)
{
	const char *tool = wt_tool();
	if (!tool || access(tool, X_OK) != 0)
		return false;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "'%s' simulate --help >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

bool wt_wait(bool (*cond)(void *arg), void *arg, unsigned timeout_ms)
{
	uint64_t end = time_mono_ms() + timeout_ms;
	for (;;) {
		if (cond(arg))
			return true;
		if (time_mono_ms() >= end)
			return false;
		/* a test's condition has no fd to wait on: a short poll() tick */
		poll(NULL, 0, 10);
	}
}

/* json NULL: the state is wt_snapshot(). */
static int sim_start(struct wt_sim *s, const char *bms, const char *json, const char *const *extra)
{
	memset(s, 0, sizeof(*s));
	const char *tool = wt_tool();
	if (!tool)
		return -ENOENT;
	snprintf(s->dir, sizeof(s->dir), "/tmp/sbw-sim-XXXXXX");
	if (!mkdtemp(s->dir))
		return -errno;
	snprintf(s->link, sizeof(s->link), "%s/tty", s->dir);
	snprintf(s->state, sizeof(s->state), "%s/state.json", s->dir);
	FILE *f = fopen(s->state, "we");
	if (!f)
		return -errno;
	if (json) {
		fputs(json, f);
	} else {
		/* the state the tests compare against: wt_snapshot() */
		struct bms_snapshot snap;
		wt_snapshot(&snap);
		char text[BMS_JSON_LINE_MAX];
		if (bms_json_format(&snap, text, sizeof(text)) == 0)
			fputs(text, f);
	}
	fclose(f);
	const char *argv[32];
	unsigned n = 0;
	argv[n++] = tool;
	argv[n++] = "simulate";
	argv[n++] = "--bms";
	argv[n++] = bms;
	argv[n++] = "--link";
	argv[n++] = s->link;
	argv[n++] = "--state";
	argv[n++] = s->state;
	for (; extra && *extra && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	int r = sb_simproc_start(&s->proc, (char *const *)argv, NULL);
	if (r < 0)
		wt_sim_stop(s);
	return r;
}

int wt_sim_start(struct wt_sim *s, const char *bms, const char *const *extra)
{
	return sim_start(s, bms, NULL, extra);
}

int wt_sim_start_json(struct wt_sim *s, const char *bms, const char *json, const char *const *extra)
{
	return sim_start(s, bms, json, extra);
}

void wt_sim_stop(struct wt_sim *s)
{
	sb_simproc_stop(&s->proc);
	if (s->link[0])
		unlink(s->link);
	if (s->state[0])
		unlink(s->state);
	if (s->dir[0])
		rmdir(s->dir);
}

/* ---- in-process responder ------------------------------------------------ */

static const char vedirect[] = "\r\nPID\t0xA389\r\nV\t26201\r\nI\t-1230\r\nP\t-32\r\n"
			       "CE\t-12345\r\nSOC\t876\r\nTTG\t-1\r\nAlarm\tOFF\r\n"
			       "Relay\tOFF\r\nAR\t0\r\nBMV\t712 Smart\r\nFW\t0413\r\n"
			       "Checksum\t\x8f";

static void *resp_main(void *arg)
{
	struct wt_resp *r = arg;
	uint8_t in[1024], out[4096];
	unsigned seed = 12345;
	for (;;) {
		struct pollfd p[2] = {{.fd = r->master, .events = POLLIN},
				      {.fd = r->stop_fd, .events = POLLIN}};
		int timeout = atomic_load(&r->garbage) ? 5 : -1;
		int k = poll(p, 2, timeout);
		if (k < 0 && errno == EINTR)
			continue;
		if (p[1].revents & POLLIN)
			break;
		if (atomic_load(&r->garbage)) {
			/* random bytes, then a SmartShunt-like text block */
			uint8_t junk[64];
			for (size_t i = 0; i < sizeof(junk); i++) {
				seed = seed * 1103515245u + 12345u;
				junk[i] = (uint8_t)(seed >> 16);
			}
			if (write(r->master, junk, sizeof(junk)) < 0 ||
			    write(r->master, vedirect, sizeof(vedirect) - 1) < 0) {
				/* nobody reads the slave yet: keep going */
			}
		}
		if (!(p[0].revents & POLLIN))
			continue;
		ssize_t n = read(r->master, in, sizeof(in));
		if (n == 0 && r->hold < 0)
			break; /* a stream whose peer closed: nothing more will come */
		if (n <= 0)
			continue; /* EIO while no slave is open */
		size_t at = atomic_load(&r->log_len);
		size_t room = sizeof(r->log) - at;
		size_t c = (size_t)n < room ? (size_t)n : room;
		memcpy(r->log + at, in, c);
		atomic_store(&r->log_len, at + c);
		atomic_fetch_add(&r->requests, 1);
		if (atomic_load(&r->modbus_exception) && n == 8 && (in[1] == 3 || in[1] == 4) &&
		    bms_modbus_crc_ok(in, 8)) {
			/* a Modbus device of another family: "no such register" */
			uint8_t ex[5] = {in[0], (uint8_t)(in[1] | 0x80), 2};
			bms_modbus_put_crc(ex, 3);
			if (write(r->master, ex, sizeof(ex)) < 0)
				break;
			continue;
		}
		if (!r->drv || atomic_load(&r->silent) || !bms_sim_find(r->drv->name))
			continue;
		unsigned na = r->naddresses ? r->naddresses : 1;
		for (unsigned i = 0; i < na; i++) {
			if (atomic_load(&r->silent_mask) & (1u << i))
				continue;
			uint8_t addr = r->naddresses ? r->addresses[i] : 0;
			int len = bms_sim_respond(r->drv, &r->snap, addr, in, (size_t)n, out,
						  sizeof(out));
			if (len <= 0)
				continue;
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 100 < atomic_load(&r->corrupt_pct)) {
				seed = seed * 1103515245u + 12345u;
				out[(seed >> 16) % (unsigned)len] ^= 0x5a;
			}
			atomic_fetch_add(&r->replies, 1);
			if (write(r->master, out, (size_t)len) < 0)
				break;
		}
	}
	return NULL;
}

/* Set before the thread starts: it reads them without a lock. */
static void resp_init(struct wt_resp *r, const struct bms_driver *drv)
{
	memset(r, 0, sizeof(*r));
	r->drv = drv;
	if (drv && (drv->flags & BMS_F_ADDRESSED)) {
		r->addresses[0] = drv->addresses ? drv->addresses[0] : drv->address_min;
		r->naddresses = 1;
	}
	wt_snapshot(&r->snap);
}

int wt_resp_start_fd(struct wt_resp *r, const struct bms_driver *drv, int fd)
{
	resp_init(r, drv);
	r->master = fd;
	r->hold = -1;
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r->stop_fd < 0)
		return -errno;
	int e = pthread_create(&r->thread, NULL, resp_main, r);
	if (e) {
		close(r->stop_fd);
		return -e;
	}
	r->running = true;
	return 0;
}

int wt_resp_start(struct wt_resp *r, const struct bms_driver *drv)
{
	resp_init(r, drv);
	r->master = wt_pty(r->slave, sizeof(r->slave));
	if (r->master < 0)
		return r->master;
	/* Hold the slave open so the master never sees a hangup between the
	 * worker's opens; the master is non-blocking so chatter never stalls. */
	r->hold = open(r->slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	fcntl(r->master, F_SETFL, fcntl(r->master, F_GETFL) | O_NONBLOCK);
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r->stop_fd < 0 || r->hold < 0) {
		close(r->master);
		return -errno;
	}
	int e = pthread_create(&r->thread, NULL, resp_main, r);
	if (e) {
		close(r->master);
		close(r->hold);
		close(r->stop_fd);
		return -e;
	}
	r->running = true;
	return 0;
}

void wt_resp_stop(struct wt_resp *r)
{
	if (!r->running)
		return;
	uint64_t one = 1;
	if (write(r->stop_fd, &one, sizeof(one)) < 0)
		return;
	pthread_join(r->thread, NULL);
	close(r->stop_fd);
	if (r->hold >= 0)
		close(r->hold);
	close(r->master);
	r->running = false;
}

int wt_find_slot(struct store *st, const char *key, struct store_record *ret)
{
	for (unsigned i = 0; i < store_slot_count(st); i++) {
		struct store_record r;
		if (store_read(st, (int)i, &r) == 0 && r.state != STORE_EMPTY &&
		    strcmp(r.info.key, key) == 0) {
			*ret = r;
			return (int)i;
		}
	}
	return -1;
}

/* Fast detection and a 0.1 s poll: what the worker tests run with. */
void wt_worker_params(struct worker_params *p, const char *path, const char *identity)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(p->identity, sizeof(p->identity), "%s", identity);
	p->serial.retries = 2;
	p->serial.detect_backoff_max = 2;
	p->serial.detect_round_max = 10;
	p->serial.redetect_after = 10;
	p->port.poll_interval = 0.1;
	p->notify_fd = -1;
}
