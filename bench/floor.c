/* SPDX-License-Identifier: MIT */
/*
 * The floor (a benchmark program, not part of the daemon): the least a
 * program can do to poll a BMS the way serialbatteryd does, so the daemon's
 * figures have something to be measured against (docs/PERFORMANCE.md).
 *
 * One thread per link, each: a timer (clock_nanosleep to the next cycle),
 * then for every request of the cycle: write it, sleep until the reply's
 * learned end (wire time of request and reply at the line rate plus the
 * latency learned from the first exchange; the inter-request gap folded into
 * the same sleep when another request follows), read what arrived at once,
 * and only for a remainder wait with poll(). The replies are found and
 * parsed by the family's own driver (bms/), so decoding costs the same as
 * in the daemon. With --bus, each thread then sends one ItemsChanged with
 * the values that move every cycle (current, power, voltage) on its own
 * connection, from the same wake-up (libdbus, built with its iterators);
 * without, the floor stops at the snapshot. No retries, no plausibility
 * check, no store, no charge rules.
 *
 * usage: floor --bms NAME [--interval-ms N] [--cycles N] [--seconds S]
 *              [--baud B] [--address A] [--bus ADDRESS] LINK...
 * Prints per thread: cycles ok, CPU us per cycle, wake-ups (context
 * switches) per cycle, from the thread's own getrusage()/CPU clock.
 */
#include <dbus/dbus.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bms/bms.h"

#define MAX_LINKS 32
#define MAX_STEPS 32
#define RX_CAP 8192

struct link {
	const char *path;
	pthread_t thread;
	int fd;
	unsigned ok, cycles;
	double cpu_us;
	long wakes, vol;
	uint16_t len[MAX_STEPS]; /* learned reply length per step (0 = unknown) */
	bool more[MAX_STEPS];    /* another request followed this step last cycle */
	long lat_us;             /* learned: reply end minus its computed wire end */
	bool lat_known;
	int64_t next_tx_us; /* the inter-frame gap after the last reply */
};

static const struct bms_driver *drv;
static uint32_t baud;
static uint8_t address;
static unsigned interval_ms = 1000, max_cycles;
static double seconds;
static atomic_bool stop;
static const char *bus;

static void add_item(DBusMessageIter *arr, const char *path, double v)
{
	DBusMessageIter e, props, pe, var;
	dbus_message_iter_open_container(arr, DBUS_TYPE_DICT_ENTRY, NULL, &e);
	dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &path);
	dbus_message_iter_open_container(&e, DBUS_TYPE_ARRAY, "{sv}", &props);
	const char *k = "Value";
	dbus_message_iter_open_container(&props, DBUS_TYPE_DICT_ENTRY, NULL, &pe);
	dbus_message_iter_append_basic(&pe, DBUS_TYPE_STRING, &k);
	dbus_message_iter_open_container(&pe, DBUS_TYPE_VARIANT, "d", &var);
	dbus_message_iter_append_basic(&var, DBUS_TYPE_DOUBLE, &v);
	dbus_message_iter_close_container(&pe, &var);
	dbus_message_iter_close_container(&props, &pe);
	char text[32];
	snprintf(text, sizeof(text), "%.2f", v);
	const char *tp = text;
	k = "Text";
	dbus_message_iter_open_container(&props, DBUS_TYPE_DICT_ENTRY, NULL, &pe);
	dbus_message_iter_append_basic(&pe, DBUS_TYPE_STRING, &k);
	dbus_message_iter_open_container(&pe, DBUS_TYPE_VARIANT, "s", &var);
	dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &tp);
	dbus_message_iter_close_container(&pe, &var);
	dbus_message_iter_close_container(&props, &pe);
	dbus_message_iter_close_container(&e, &props);
	dbus_message_iter_close_container(arr, &e);
}

/* One ItemsChanged with what moves every cycle. */
static void items_changed(DBusConnection *c, const struct bms_snapshot *s)
{
	DBusMessage *m = dbus_message_new_signal("/", "com.victronenergy.BusItem", "ItemsChanged");
	DBusMessageIter it, arr;
	dbus_message_iter_init_append(m, &it);
	dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sa{sv}}", &arr);
	add_item(&arr, "/Dc/0/Current", s->current_ma / 1000.0);
	add_item(&arr, "/Dc/0/Power", (double)s->power_mw / 1000.0);
	add_item(&arr, "/Dc/0/Voltage", s->voltage_mv / 1000.0);
	dbus_message_iter_close_container(&it, &arr);
	dbus_connection_send(c, m, NULL);
	dbus_connection_flush(c);
	dbus_message_unref(m);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_us(int64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000), (long)(t % 1000000) * 1000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int64_t wire_us(size_t n)
{
	unsigned bits = bms_driver_framing(drv) == BMS_8E1 ? 11 : 10;
	return (int64_t)n * bits * 1000000 / baud;
}

static speed_t speed_of(uint32_t b)
{
	switch (b) {
	case 2400:
		return B2400;
	case 4800:
		return B4800;
	case 9600:
		return B9600;
	case 19200:
		return B19200;
	case 38400:
		return B38400;
	case 57600:
		return B57600;
	case 115200:
		return B115200;
	default:
		return B9600;
	}
}

static int open_link(const char *path)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct termios t;
	tcgetattr(fd, &t);
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	if (bms_driver_framing(drv) == BMS_8E1)
		t.c_cflag |= PARENB;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	cfsetispeed(&t, speed_of(baud));
	cfsetospeed(&t, speed_of(baud));
	tcsetattr(fd, TCSANOW, &t);
	tcflush(fd, TCIOFLUSH);
	return fd;
}

/* One request and its reply: 0 when parsed. */
static int exchange(struct link *l, void *state, struct bms_request *req, const uint8_t *out,
		    size_t n, struct bms_snapshot *snap)
{
	static _Thread_local uint8_t rx[RX_CAP];
	size_t len = 0, total = 0;
	/* the gap the BMS needs after the last reply (folded into that reply's
	 * wait within a cycle; between cycles the timer covers it, except when
	 * cycles run back to back) */
	if (now_us() < l->next_tx_us)
		sleep_until_us(l->next_tx_us);
	int64_t t0 = now_us();
	if (write(l->fd, out, n) != (ssize_t)n)
		return -EIO;
	unsigned k = req->step < MAX_STEPS ? req->step : MAX_STEPS - 1;
	bool timed = l->len[k] && l->lat_known;
	if (timed) {
		int64_t end = t0 + wire_us(n) + wire_us(l->len[k]) + l->lat_us + 1000;
		if (l->more[k])
			end += (int64_t)drv->inter_frame_gap_ms * 1000;
		sleep_until_us(end);
	}
	int64_t deadline = t0 + wire_us(n) + (int64_t)drv->response_timeout_ms * 1000 +
			   wire_us(drv->max_frame);
	bool polled = false;
	int64_t last = 0;
	for (;;) {
		ssize_t r = read(l->fd, rx + len, sizeof(rx) - len);
		if (r > 0) {
			len += (size_t)r;
			total += (size_t)r;
			last = now_us();
			size_t start, flen;
			while (len > 0) {
				enum bms_find f = bms_frame_find(drv, rx, len, &start, &flen);
				if (f == BMS_FIND_INVALID) {
					len = 0;
					break;
				}
				if (f == BMS_FIND_NEED_MORE)
					break;
				int pr = drv->parse(state, req, rx + start, flen, snap);
				memmove(rx, rx + start + flen, len - start - flen);
				len -= start + flen;
				if (pr == 0) {
					size_t used = total - len;
					if (!timed || polled) {
						l->lat_us =
							last - (t0 + wire_us(n) + wire_us(used));
						l->lat_known = true;
					}
					l->len[k] = (uint16_t)used;
					int64_t end = timed && !polled ? now_us() : last;
					l->next_tx_us =
						end + (int64_t)drv->inter_frame_gap_ms * 1000;
					if (timed && !polled && l->more[k])
						l->next_tx_us -=
							(int64_t)drv->inter_frame_gap_ms * 1000;
					return 0;
				}
			}
			continue;
		}
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -EIO;
		int64_t left = deadline - now_us();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {l->fd, POLLIN, 0};
		polled = true;
		poll(&p, 1, (int)((left + 999) / 1000));
	}
}

/* One poll cycle: every request due, each with its reply. 0 when all parsed. */
__attribute__((noinline)) static int floor_cycle(struct link *l, void *state, struct bms_held *held,
						 struct bms_snapshot *snap)
{
	uint8_t out[512];
	memset(snap, 0, sizeof(*snap));
	struct bms_request req = {.kind = BMS_REQ_POLL, .cycle = bms_held_next_cycle(held)};
	int r = 0, prev = -1;
	for (req.step = 0; r == 0; req.step++) {
		if (!bms_step_due(drv, req.step, held))
			continue;
		int n = drv->build_request(state, &req, out, sizeof(out));
		if (n <= 0)
			break;
		/* more[] as the last cycle left it: whether a request followed */
		if (prev >= 0)
			l->more[prev] = true;
		prev = req.step < MAX_STEPS ? (int)req.step : MAX_STEPS - 1;
		r = exchange(l, state, &req, out, (size_t)n, snap);
		if (r == 0)
			bms_held_keep(drv, req.step, held, snap);
		else
			tcflush(l->fd, TCIFLUSH); /* unclean: start the next one clean */
	}
	if (r == 0 && prev >= 0)
		l->more[prev] = false; /* the cycle's last request */
	return r;
}

/* A measured cycle, in a function of its own for callgrind's --toggle-collect. */
__attribute__((noinline)) static int
measured_cycle(struct link *l, void *state, struct bms_held *held, struct bms_snapshot *snap)
{
	return floor_cycle(l, state, held, snap);
}

static void *run(void *arg)
{
	struct link *l = arg;
	pthread_setname_np(pthread_self(), "floor-io");
	DBusConnection *conn = NULL;
	if (bus) {
		DBusError err;
		dbus_error_init(&err);
		conn = dbus_connection_open_private(bus, &err);
		if (!conn || !dbus_bus_register(conn, &err)) {
			fprintf(stderr, "floor: bus: %s\n", err.message);
			return NULL;
		}
	}
	void *state = calloc(1, drv->state_size ? drv->state_size : 1);
	if (drv->init)
		drv->init(state, address);
	struct bms_held held;
	bms_held_reset(&held);
	struct bms_snapshot snap;
	/* one cycle first, not counted: lengths and latency are learned, as the
	 * daemon learns them during detection */
	floor_cycle(l, state, &held, &snap);
	struct timespec c0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	struct rusage u0, u1;
	getrusage(RUSAGE_THREAD, &u0);
	int64_t next = now_us(), end = seconds > 0 ? next + (int64_t)(seconds * 1e6) : 0;
	while (!atomic_load(&stop) && (!max_cycles || l->cycles < max_cycles) &&
	       (!end || next < end)) {
		if (interval_ms)
			sleep_until_us(next);
		next += (int64_t)interval_ms * 1000;
		int r = measured_cycle(l, state, &held, &snap);
		l->cycles++;
		if (r == 0)
			l->ok++;
		if (r == 0 && conn)
			items_changed(conn, &snap);
	}
	struct timespec c1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	getrusage(RUSAGE_THREAD, &u1);
	l->cpu_us = (double)(c1.tv_sec - c0.tv_sec) * 1e6 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e3;
	l->vol = u1.ru_nvcsw - u0.ru_nvcsw;
	l->wakes = l->vol + (u1.ru_nivcsw - u0.ru_nivcsw);
	free(state);
	if (conn) {
		dbus_connection_close(conn);
		dbus_connection_unref(conn);
	}
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bms", required_argument, NULL, 'b'},
		{"interval-ms", required_argument, NULL, 'i'},
		{"cycles", required_argument, NULL, 'c'},
		{"seconds", required_argument, NULL, 's'},
		{"baud", required_argument, NULL, 'B'},
		{"address", required_argument, NULL, 'a'},
		{"bus", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "b:i:c:s:B:a:d:", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			drv = bms_driver_find(optarg);
			break;
		case 'i':
			interval_ms = (unsigned)atoi(optarg);
			break;
		case 'c':
			max_cycles = (unsigned)atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'B':
			baud = (uint32_t)atoi(optarg);
			break;
		case 'a':
			address = (uint8_t)atoi(optarg);
			break;
		case 'd':
			bus = optarg;
			break;
		default:
			return 2;
		}
	}
	int nl = argc - optind;
	if (!drv || nl < 1 || nl > MAX_LINKS) {
		fprintf(stderr, "usage: floor --bms NAME [--interval-ms N] [--cycles N] "
				"[--seconds S] [--baud B] [--address A] [--bus ADDRESS] LINK...\n");
		return 2;
	}
	if (!baud)
		baud = bms_driver_bauds(drv)[0];
	if (!address && drv->addresses)
		address = drv->addresses[0];
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	static struct link links[MAX_LINKS];
	for (int i = 0; i < nl; i++) {
		links[i].path = argv[optind + i];
		links[i].fd = open_link(links[i].path);
		if (links[i].fd < 0) {
			perror(links[i].path);
			return 1;
		}
	}
	for (int i = 0; i < nl; i++)
		pthread_create(&links[i].thread, NULL, run, &links[i]);
	for (int i = 0; i < nl; i++) {
		pthread_join(links[i].thread, NULL);
		struct link *l = &links[i];
		unsigned cy = l->cycles ? l->cycles : 1;
		printf("floor %s: %u/%u cycles ok, CPU %.1f us/cycle, %.2f wake-ups/cycle (%.2f "
		       "voluntary)\n",
		       drv->name, l->ok, l->cycles, l->cpu_us / cy, (double)l->wakes / cy,
		       (double)l->vol / cy);
		close(l->fd);
	}
	return 0;
}
