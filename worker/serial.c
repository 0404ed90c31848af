/* SPDX-License-Identifier: MIT */
#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

int worker_port_flush_input(struct worker_port *p)
{
	if (tcflush(p->fd, TCIFLUSH) < 0)
		return errno == EIO ? -ENODEV : -errno;
	return 0;
}

/* poll() the port for `events` plus the wake fd. 1 = port ready, 0 = deadline. */
static int wait_port(struct worker_port *p, short events, uint64_t deadline_ms)
{
	struct pollfd fds[2] = {
		{.fd = p->fd, .events = events},
		{.fd = p->wake_fd, .events = POLLIN},
	};
	nfds_t n = p->wake_fd >= 0 ? 2 : 1;
	for (;;) {
		int r = poll(fds, n, time_poll_timeout(deadline_ms));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 2 && (fds[1].revents & POLLIN))
			return -ECANCELED;
		if (fds[0].revents & POLLNVAL)
			return -EBADF;
		/* HUP before IN: a pty whose master closed reports both, and its
		 * buffered bytes are of no use to a worker that is ending anyway. */
		if (fds[0].revents & (POLLHUP | POLLERR))
			return -ENODEV;
		if (fds[0].revents & events)
			return 1;
		if (r == 0)
			return 0;
	}
}

int worker_port_write(struct worker_port *p, const uint8_t *buf, size_t len,
		      uint64_t deadline_ms)
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

unsigned worker_wire_ms(uint32_t baud, enum bms_framing framing, size_t n)
{
	if (baud == 0)
		return 0;
	uint64_t bits = (uint64_t)n * (framing == BMS_8E1 ? 11u : 10u) * 1000u;
	return (unsigned)((bits + baud - 1) / baud);
}

unsigned worker_port_wire_ms(const struct worker_port *p, size_t n)
{
	return worker_wire_ms(p->baud, p->framing, n);
}
