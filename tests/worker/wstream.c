/* SPDX-License-Identifier: MIT */
#include "wstream.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct stream_transport {
	struct worker_transport t; /* first: the handle the engine holds */
	int fd;
	unsigned configures;
};

static struct stream_transport *stream_of(struct worker_transport *t)
{
	return (struct stream_transport *)t;
}

static int stream_open(const char *path, int wake_fd, struct worker_transport **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	struct stream_transport *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0 || connect(s->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = errno == ENOENT || errno == ECONNREFUSED ? -ENODEV : -errno;
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return r;
	}
	s->t.ops = &wt_stream_ops;
	s->t.wake_fd = wake_fd;
	*ret = &s->t;
	return 0;
}

static void stream_close(struct worker_transport *t)
{
	if (!t)
		return;
	close(stream_of(t)->fd);
	free(t);
}

/* A byte stream has no line: every setting is taken as it is. */
static int stream_configure(struct worker_transport *t, const struct worker_line *line)
{
	(void)line;
	stream_of(t)->configures++;
	return 0;
}

static int stream_write(struct worker_transport *t, const uint8_t *buf, size_t len,
			uint64_t deadline_ms)
{
	struct stream_transport *s = stream_of(t);
	size_t off = 0;
	while (off < len) {
		ssize_t w = send(s->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return errno == EPIPE || errno == ECONNRESET ? -ENODEV : -errno;
		int r = worker_wait_fd(s->fd, t->wake_fd, POLLOUT, deadline_ms);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

static int stream_read(struct worker_transport *t, uint8_t *buf, size_t cap, uint64_t deadline_ms)
{
	struct stream_transport *s = stream_of(t);
	for (;;) {
		int r = worker_wait_fd(s->fd, t->wake_fd, POLLIN, deadline_ms);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t n = recv(s->fd, buf, cap, 0);
		if (n > 0)
			return (int)n;
		if (n == 0)
			return -ENODEV; /* the peer closed */
		if (errno != EINTR && errno != EAGAIN)
			return errno == ECONNRESET ? -ENODEV : -errno;
	}
}

static int stream_flush(struct worker_transport *t)
{
	uint8_t junk[256];
	for (;;) {
		ssize_t n = recv(stream_of(t)->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		/* end of stream: the next wait reports the hangup */
		if (n == 0 || errno == EAGAIN)
			return 0;
		return errno == ECONNRESET ? -ENODEV : -errno;
	}
}

static int stream_fd(const struct worker_transport *t)
{
	return ((const struct stream_transport *)t)->fd;
}

/* No reply_done: nothing is batched, every read returns what is there. */
const struct worker_transport_ops wt_stream_ops = {
	.name = "test stream",
	.open = stream_open,
	.close = stream_close,
	.configure = stream_configure,
	.write = stream_write,
	.read = stream_read,
	.flush = stream_flush,
	.fd = stream_fd,
};

unsigned wt_stream_configures(const struct worker_transport *t)
{
	return ((const struct stream_transport *)t)->configures;
}

int wt_stream_listen(char *path, size_t len)
{
	char dir[] = "/tmp/sbw-stream-XXXXXX";
	if (!mkdtemp(dir))
		return -errno;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bms", dir);
	if (n < 0 || (size_t)n >= len) {
		rmdir(dir);
		return -ENAMETOOLONG;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		rmdir(dir);
		return r;
	}
	memcpy(path, sa.sun_path, (size_t)n + 1);
	return fd;
}

int wt_stream_accept(int listen_fd, unsigned timeout_ms)
{
	struct pollfd p = {.fd = listen_fd, .events = POLLIN};
	int k = poll(&p, 1, (int)timeout_ms);
	if (k < 0)
		return -errno;
	if (k == 0)
		return -ETIMEDOUT;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

void wt_stream_unlisten(int listen_fd, const char *path)
{
	if (listen_fd >= 0)
		close(listen_fd);
	if (!path || !path[0])
		return;
	unlink(path);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s", path);
	rmdir(dirname(dir));
}
