/* SPDX-License-Identifier: MIT */
#include "transport.h"

#include <errno.h>
#include <poll.h>

#include "common/sbtime.h"

int worker_transport_open(const struct worker_transport_ops *ops, const char *path, int wake_fd,
			  struct worker_transport **ret)
{
	if (!ops || !path)
		return -EINVAL;
	int r = ops->open(path, wake_fd, ret);
	if (r == 0)
		(*ret)->unclean = true; /* whatever waited before we came */
	return r;
}

void worker_transport_close(struct worker_transport *t)
{
	if (t)
		t->ops->close(t);
}

int worker_transport_configure(struct worker_transport *t, const struct worker_line *line)
{
	if (t->configured && t->line.baud == line->baud && t->line.framing == line->framing)
		return 0;
	int r = t->ops->configure(t, line);
	if (r < 0)
		return r;
	t->line = *line;
	t->configured = true;
	t->unclean = true; /* bytes at the old speed are noise now */
	return 0;
}

/*
 * poll() fd for events, wake_fd and extra_fd (each -1 = none: poll() skips a
 * negative fd). The stop comes first, then a hangup, then extra_fd: a command
 * never hides either of them. 2 = extra_fd readable.
 */
static int wait_fds(int fd, int wake_fd, int extra_fd, short events, uint64_t deadline_ms)
{
	struct pollfd fds[3] = {
		{.fd = fd, .events = events},
		{.fd = wake_fd, .events = POLLIN},
		{.fd = extra_fd, .events = POLLIN},
	};
	for (;;) {
		int r = poll(fds, 3, time_poll_timeout(deadline_ms));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[1].revents & POLLIN)
			return -ECANCELED;
		if (fds[0].revents & POLLNVAL)
			return -EBADF;
		/* HUP before IN: a pty whose master closed reports both, and its
		 * buffered bytes are of no use to a worker that is ending anyway. */
		if (fds[0].revents & (POLLHUP | POLLERR))
			return -ENODEV;
		if (fds[0].revents & events)
			return 1;
		if (fds[2].revents & (POLLNVAL | POLLERR))
			return -EBADF;
		if (fds[2].revents & POLLIN)
			return 2;
		if (r == 0)
			return 0;
	}
}

int worker_wait_fd(int fd, int wake_fd, short events, uint64_t deadline_ms)
{
	return wait_fds(fd, wake_fd, -1, events, deadline_ms);
}

int worker_transport_idle(struct worker_transport *t, uint64_t deadline_ms)
{
	return worker_transport_idle_or(t, -1, deadline_ms);
}

int worker_transport_idle_or(struct worker_transport *t, int extra_fd, uint64_t deadline_ms)
{
	/* events = 0: POLLHUP/POLLERR are always reported, input is not. */
	int r = wait_fds(t->ops->fd(t), t->wake_fd, extra_fd, 0, deadline_ms);
	if (r < 0)
		return r;
	return r == 2 ? 1 : 0;
}

unsigned worker_wire_ms(uint32_t baud, enum bms_framing framing, size_t n)
{
	if (baud == 0)
		return 0;
	uint64_t bits = (uint64_t)n * (framing == BMS_8E1 ? 11u : 10u) * 1000u;
	return (unsigned)((bits + baud - 1) / baud);
}

unsigned worker_transport_wire_ms(const struct worker_transport *t, size_t n)
{
	return t->configured ? worker_wire_ms(t->line.baud, t->line.framing, n) : 0;
}
