/* SPDX-License-Identifier: MIT */
#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sbtime.h"

static const struct {
	uint32_t baud;
	speed_t speed;
} speeds[] = {
	{1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
	{19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
	{230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
	{921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
	{2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000},
	{4000000, B4000000},
};

static int baud_speed(uint32_t baud, speed_t *ret)
{
	for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
		if (speeds[i].baud == baud) {
			*ret = speeds[i].speed;
			return 0;
		}
	return -EINVAL;
}

static int apply(struct worker_port *p, const struct termios *t)
{
	if (tcsetattr(p->fd, TCSANOW, t) < 0)
		return errno == EIO ? -ENODEV : -errno;
	p->tio = *t;
	return 0;
}

int worker_port_open(const char *path, int wake_fd, struct worker_port *ret)
{
	/* O_NOCTTY: a BMS must never become our controlling terminal; O_NONBLOCK:
	 * every wait goes through poll() with the wake fd and a deadline. */
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return (errno == ENOENT || errno == ENXIO) ? -ENODEV : -errno;
	struct worker_port p = {.fd = fd, .wake_fd = wake_fd, .vmin = 1};
	int r;
	struct termios t;
	if (tcgetattr(fd, &t) < 0) {
		r = errno == EIO ? -ENODEV : -errno; /* ENOTTY: not a serial port */
		goto fail;
	}
	cfmakeraw(&t);
	/* CLOCAL: no modem lines on a BMS link, a missing DCD must not hang us up. */
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(tcflag_t)(CRTSCTS | HUPCL | CSTOPB | PARENB | PARODD | CSIZE);
	t.c_cflag |= CS8;
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | INPCK);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0; /* VTIME != 0 would disable VMIN batching in poll() */
	cfsetispeed(&t, B9600);
	cfsetospeed(&t, B9600);
	r = apply(&p, &t);
	if (r < 0)
		goto fail;
	p.baud = 0; /* unknown to callers until set_line: forces the first one */
	p.framing = BMS_8N1;
	tcflush(fd, TCIOFLUSH);
	*ret = p;
	return 0;
fail:
	close(fd);
	return r;
}

void worker_port_close(struct worker_port *p)
{
	if (p && p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

int worker_port_set_line(struct worker_port *p, uint32_t baud, enum bms_framing framing)
{
	if (p->baud == baud && p->framing == framing)
		return 0;
	speed_t sp;
	if (baud_speed(baud, &sp) < 0)
		return -EINVAL;
	struct termios t = p->tio;
	t.c_cflag &= ~(tcflag_t)(PARENB | PARODD | CSTOPB);
	if (framing == BMS_8E1)
		t.c_cflag |= PARENB;
	cfsetispeed(&t, sp);
	cfsetospeed(&t, sp);
	int r = apply(p, &t);
	if (r < 0)
		return r;
	p->baud = baud;
	p->framing = framing;
	return 0;
}

int worker_port_set_vmin(struct worker_port *p, uint8_t n)
{
	if (n == 0)
		n = 1;
	if (p->vmin == n)
		return 0;
	struct termios t = p->tio;
	t.c_cc[VMIN] = n;
	int r = apply(p, &t);
	if (r == 0)
		p->vmin = n;
	return r;
}

/* Drop unread input (late replies, echo, noise). */
static int worker_port_flush_input(struct worker_port *p)
{
	if (tcflush(p->fd, TCIFLUSH) < 0)
		return errno == EIO ? -ENODEV : -errno;
	return 0;
}

/* poll() the port for `events` plus the wake fd. 1 = port ready, 0 = deadline. */
static int wait_port(struct worker_port *p, short events, uint64_t deadline_ms)
{
	return worker_wait_fd(p->fd, p->wake_fd, events, deadline_ms);
}

int worker_port_write(struct worker_port *p, const uint8_t *buf, size_t len, uint64_t deadline_ms)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(p->fd, buf + off, len - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return errno == EIO ? -ENODEV : -errno;
		int r = wait_port(p, POLLOUT, deadline_ms);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

int worker_port_read_now(struct worker_port *p, uint8_t *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read(p->fd, buf, cap);
		if (n > 0)
			return (int)n;
		if (n == 0)
			return -ENODEV; /* end of file on a tty: hung up */
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return errno == EIO ? -ENODEV : -errno;
	}
}

int worker_port_read(struct worker_port *p, uint8_t *buf, size_t cap, uint64_t deadline_ms)
{
	for (;;) {
		int r = wait_port(p, POLLIN, deadline_ms);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
		r = worker_port_read_now(p, buf, cap);
		if (r != 0)
			return r;
		/* spurious readiness: wait again */
	}
}

int worker_port_idle(struct worker_port *p, uint64_t deadline_ms)
{
	/* events = 0: POLLHUP/POLLERR are always reported, input is not. */
	int r = wait_port(p, 0, deadline_ms);
	return r < 0 ? r : 0;
}

/* ---- the serial backend of worker/transport.h ------------------------------ */

/*
 * Requests whose reply length is remembered: every step of every address of
 * a full RS485 bus (16 addresses of up to 16 steps). Beyond that the oldest
 * goes, which only costs one exchange read as it comes.
 */
#define LEARN_SLOTS 256

/*
 * Timed reads. A reply whose length is known ends at a time we can compute:
 * the write, the request's and the reply's wire time at the line rate, plus
 * the adapter's and the BMS's latency (learned per port). Sleeping until
 * then on the wake fd alone and reading once costs one wake-up per reply; a
 * poll() on the tty instead is woken by every chunk the adapter delivers
 * (VMIN only keeps poll() from returning), up to one per byte on a UART.
 * LAT_DEFAULT_US until an exchange was seen to its end; LAT_MARGIN_US covers
 * scheduling jitter. A reply seen whole at every timed wake for LAT_DECAY
 * exchanges in a row tries LAT_STEP_US less, so one slow reply does not hold
 * the latency (and the publishing delay) up for long. In microseconds: at
 * 115200 baud a byte takes 87 us, and a millisecond's rounding would be most
 * of the delay between a reply's end and its publication.
 */
#define LAT_DEFAULT_US 20000
#define LAT_MARGIN_US 1000
#define LAT_MAX_US 500000
#define LAT_DECAY 16u
#define LAT_STEP_US 250

struct learned {
	uint32_t key; /* hash of the request bytes */
	uint16_t len; /* bytes up to the end of its reply last time; 0 = unknown */
};

struct serial_transport {
	struct worker_transport t; /* first: the handle the engine holds */
	struct worker_port port;
	struct learned *cur; /* the request in flight, NULL before the first write */
	size_t want;         /* its learned reply length (0 = unknown) */
	size_t got;          /* bytes read since its write */
	uint64_t sent_us;    /* when its write started */
	int64_t req_wire_us;
	bool timed;          /* the next read sleeps until the reply's computed end */
	bool seen_end;       /* bytes of this reply came through poll(): its end is known */
	uint64_t last_rx_us; /* when the last bytes came through poll() */
	int64_t lat_us;      /* learned latency: reply end minus its computed wire end */
	unsigned streak;     /* timed exchanges in a row whose reply was whole at the wake */
	unsigned nused;      /* learned[0..nused) hold requests */
	unsigned next_slot;  /* once all are used: round-robin replacement */
	struct learned learned[LEARN_SLOTS];
};

static struct serial_transport *serial_of(struct worker_transport *t)
{
	return (struct serial_transport *)t;
}

/* FNV-1a: the same request gets the same reply length, whatever driver sent it. */
static uint32_t request_key(const uint8_t *buf, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ buf[i]) * 16777619u;
	return h ^ (uint32_t)len;
}

static struct learned *learned_for(struct serial_transport *s, uint32_t key)
{
	for (unsigned i = 0; i < s->nused; i++)
		if (s->learned[i].key == key)
			return &s->learned[i];
	struct learned *l;
	if (s->nused < LEARN_SLOTS) {
		l = &s->learned[s->nused++];
	} else {
		l = &s->learned[s->next_slot];
		s->next_slot = (s->next_slot + 1) % LEARN_SLOTS;
	}
	*l = (struct learned){.key = key};
	return l;
}

/* Microseconds the configured line needs for n bytes (0 without a line speed). */
static int64_t wire_us(const struct worker_transport *t, size_t n)
{
	if (!t->configured || t->line.baud == 0)
		return 0;
	uint64_t bits = (uint64_t)n * (t->line.framing == BMS_8E1 ? 11u : 10u);
	return (int64_t)(bits * 1000000u / t->line.baud);
}

static uint8_t vmin_for(size_t want, size_t have)
{
	if (want <= have)
		return 1;
	size_t n = want - have;
	return (uint8_t)(n > 255 ? 255 : n);
}

static int serial_open(const char *path, int wake_fd, struct worker_transport **ret)
{
	struct serial_transport *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = worker_port_open(path, wake_fd, &s->port);
	if (r < 0) {
		free(s);
		return r;
	}
	s->t.ops = &worker_serial_ops;
	s->t.wake_fd = wake_fd;
	s->lat_us = LAT_DEFAULT_US;
	*ret = &s->t;
	return 0;
}

static void serial_close(struct worker_transport *t)
{
	if (!t)
		return;
	struct serial_transport *s = serial_of(t);
	worker_port_close(&s->port);
	free(s);
}

static int serial_configure(struct worker_transport *t, const struct worker_line *line)
{
	return worker_port_set_line(&serial_of(t)->port, line->baud, line->framing);
}

static int serial_write(struct worker_transport *t, const uint8_t *buf, size_t len,
			uint64_t deadline_ms)
{
	struct serial_transport *s = serial_of(t);
	s->cur = learned_for(s, request_key(buf, len));
	s->want = s->cur->len;
	s->got = 0;
	s->sent_us = time_mono_us();
	s->req_wire_us = wire_us(t, len);
	/* without a line speed there is no wire time to compute an end from */
	s->timed = s->want > 0 && t->configured && t->line.baud > 0;
	s->seen_end = false;
	return worker_port_write(&s->port, buf, len, deadline_ms);
}

/* When the reply to the request in flight should be whole: its computed end. */
static uint64_t reply_end_us(const struct serial_transport *s)
{
	int64_t wire = s->req_wire_us + wire_us(&s->t, s->want);
	int64_t end = (int64_t)s->sent_us + wire + s->lat_us + LAT_MARGIN_US;
	return end < (int64_t)s->sent_us ? s->sent_us : (uint64_t)end;
}

/*
 * Sleep until until_us watching nothing but the wake fd: 0, or -ECANCELED.
 * ppoll() for its microsecond timeout.
 */
static int sleep_until_us(int wake_fd, uint64_t until_us)
{
	struct pollfd pfd = {.fd = wake_fd, .events = POLLIN};
	for (;;) {
		uint64_t now = time_mono_us();
		uint64_t d = until_us > now ? until_us - now : 0;
		struct timespec ts = {(time_t)(d / 1000000u), (long)(d % 1000000u) * 1000L};
		int r = ppoll(&pfd, 1, &ts, NULL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0 && (pfd.revents & POLLIN))
			return -ECANCELED;
		if (r > 0 && (pfd.revents & POLLNVAL))
			return -EBADF;
		if (r == 0 || time_mono_us() >= until_us)
			return 0;
	}
}

/* Read what waits, counted. */
static int read_counted(struct serial_transport *s, uint8_t *buf, size_t cap)
{
	s->t.stats.reads++;
	return worker_port_read_now(&s->port, buf, cap);
}

/*
 * The first read of an exchange whose reply length is known: sleep until
 * its computed end (plus the engine's linger) watching nothing but the wake
 * fd, then take what is there. > 0 bytes, 0 when nothing came yet (the
 * caller waits on, by poll()), or an error.
 */
static int timed_read(struct serial_transport *s, uint8_t *buf, size_t cap, uint64_t deadline_ms)
{
	struct worker_transport *t = &s->t;
	s->timed = false;
	uint64_t end = reply_end_us(s);
	uint64_t wake = end + (uint64_t)t->linger_ms * 1000u;
	if (wake > deadline_ms * 1000u)
		wake = deadline_ms * 1000u;
	t->stats.sleeps++;
	int r = sleep_until_us(t->wake_fd, wake);
	if (r < 0)
		return r;
	r = read_counted(s, buf, cap);
	if (r == 0)
		t->stats.short_reads++; /* nothing yet: late, or silent */
	if (r <= 0)
		return r;
	/* The tty hands the line discipline what the driver pushed in batches
	 * (a work item) and read() takes only what is in the line discipline;
	 * once that is empty, read() pushes the rest first. So short of the
	 * reply, read again: a system call, not a wake-up. */
	while (s->got + (size_t)r < s->want && (size_t)r < cap) {
		int k = read_counted(s, buf + r, cap - (size_t)r);
		if (k < 0)
			return k;
		if (k == 0)
			break;
		r += k;
	}
	uint64_t now = time_mono_us();
	/* rounded down: the gap counted from here ends no later than this
	 * wake-up when it was folded into it (the margin covers the rest) */
	t->rx_end_ms = (end < now ? end : now) / 1000u;
	if (s->got + (size_t)r < s->want) {
		/* Late (or a shorter reply): the rest, if any, is read as it
		 * comes, and this exchange teaches length and latency anew. */
		t->stats.short_reads++;
		if (s->cur)
			s->cur->len = 0;
		s->want = 0;
		int e = worker_port_set_vmin(&s->port, 1);
		if (e < 0)
			return e;
	}
	return r;
}

/*
 * Timed reads first (above); for a reply not yet known, or the rest of one
 * that came late, poll() with VMIN set so that it wakes once when the rest
 * of the learned reply is there, not per byte. VMIN is set lazily before
 * each read, so a run of equal replies costs no tcsetattr() at all.
 */
static int serial_read(struct worker_transport *t, uint8_t *buf, size_t cap, uint64_t deadline_ms)
{
	struct serial_transport *s = serial_of(t);
	struct worker_port *p = &s->port;
	int r = worker_port_set_vmin(p, vmin_for(s->want, s->got));
	if (r < 0)
		return r;
	if (s->timed) {
		r = timed_read(s, buf, cap, deadline_ms);
		if (r > 0)
			s->got += (size_t)r;
		if (r != 0)
			return r;
	}
	for (;;) {
		t->stats.polls++;
		r = worker_wait_fd(p->fd, p->wake_fd, POLLIN, deadline_ms);
		if (r < 0)
			return r;
		if (r == 0) {
			r = -ETIMEDOUT;
			break;
		}
		r = read_counted(s, buf, cap);
		if (r != 0)
			break;
		/* spurious readiness: wait again */
	}
	if (r == -ETIMEDOUT && p->vmin > 1) {
		/* The learned length was too long this time: take what came. */
		if (s->cur)
			s->cur->len = 0;
		s->want = 0;
		int e = worker_port_set_vmin(p, 1);
		if (e < 0)
			return e;
		r = read_counted(s, buf, cap);
		if (r == 0)
			r = -ETIMEDOUT;
	}
	if (r > 0) {
		s->got += (size_t)r;
		s->seen_end = true;
		s->last_rx_us = time_mono_us();
		t->rx_end_ms = s->last_rx_us / 1000u;
	}
	return r;
}

static int serial_flush(struct worker_transport *t)
{
	return worker_port_flush_input(&serial_of(t)->port);
}

static int serial_fd(const struct worker_transport *t)
{
	return ((const struct serial_transport *)t)->port.fd;
}

static void serial_reply_done(struct worker_transport *t, size_t used)
{
	struct serial_transport *s = serial_of(t);
	if (s->cur)
		s->cur->len = (uint16_t)(used > UINT16_MAX ? 0 : used);
	if (!t->configured || t->line.baud == 0)
		return;
	if (s->seen_end) {
		/* the reply's last bytes woke a poll(): when they came is the latency */
		int64_t wire = s->req_wire_us + wire_us(t, used);
		int64_t lat = (int64_t)s->last_rx_us - (int64_t)s->sent_us - wire;
		if (lat > LAT_MAX_US)
			lat = LAT_MAX_US;
		if (lat < -wire)
			lat = -wire;
		s->lat_us = lat;
		s->streak = 0;
		t->stats.latency_learned++;
	} else if (++s->streak >= LAT_DECAY) {
		s->streak = 0;
		s->lat_us -= LAT_STEP_US;
	}
}

const struct worker_transport_ops worker_serial_ops = {
	.name = "serial",
	.open = serial_open,
	.close = serial_close,
	.configure = serial_configure,
	.write = serial_write,
	.read = serial_read,
	.flush = serial_flush,
	.fd = serial_fd,
	.reply_done = serial_reply_done,
};
