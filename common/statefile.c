/* SPDX-License-Identifier: MIT */
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATEFILE_PATH_MAX 512

/*
 * A directory someone else can write to lets them replace our files (or put a
 * symlink where our next file goes), so we trust only our own, not
 * group/other-writable directories.
 */
static int dir_trusted(int dfd)
{
	struct stat st;
	if (fstat(dfd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid())
		return -EPERM;
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return -EACCES;
	return 0;
}

/*
 * Open (creating when asked) one directory level: the state directory itself
 * when at < 0 (its path may hold symlinks: that is the admin's choice), else a
 * component below it, never through a symlink. Created directories get 0755
 * whatever the umask, so the outcome does not depend on who started us.
 */
static int open_dir(int at, const char *name, bool create, int *ret_fd)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (at >= 0 ? O_NOFOLLOW : 0);
	bool created = false;
	int fd = at >= 0 ? openat(at, name, flags) : open(name, flags);
	if (fd < 0 && errno == ENOENT && create) {
		int m = at >= 0 ? mkdirat(at, name, 0755) : mkdir(name, 0755);
		if (m < 0 && errno != EEXIST)
			return -errno;
		created = m == 0;
		fd = at >= 0 ? openat(at, name, flags) : open(name, flags);
	}
	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : -errno;
	if (created && fchmod(fd, 0755) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	int r = dir_trusted(fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int statefile_dir_prepare(const char *dir)
{
	if (!dir || !dir[0])
		return -EINVAL;
	int fd;
	int r = open_dir(-1, dir, true, &fd);
	if (r < 0)
		return r;
	close(fd);
	return 0;
}

static bool name_ok(const char *s)
{
	return s[0] && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/*
 * Walk rel below dir; on success *ret_fd is the directory holding the last
 * component and ret_name (cap bytes) that component.
 */
static int open_parent(const char *dir, const char *rel, bool create, char *ret_name, size_t cap,
		       int *ret_fd)
{
	char copy[STATEFILE_PATH_MAX];
	if (!dir || !dir[0] || !rel)
		return -EINVAL;
	int n = snprintf(copy, sizeof(copy), "%s", rel);
	if (n < 0 || (size_t)n >= sizeof(copy))
		return -ENAMETOOLONG;
	/* every component checked before anything is created */
	for (const char *c = rel;; c++) {
		const char *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (!e)
			break;
		c = e;
	}
	int fd;
	int r = open_dir(-1, dir, create, &fd);
	if (r < 0)
		return r;
	char *part = copy;
	for (char *slash; (slash = strchr(part, '/')); part = slash + 1) {
		*slash = '\0';
		int sub;
		r = name_ok(part) ? open_dir(fd, part, create, &sub) : -EINVAL;
		close(fd);
		if (r < 0)
			return r;
		fd = sub;
	}
	if (!name_ok(part) || strlen(part) + 5 > cap) { /* room for ".tmp" */
		close(fd);
		return name_ok(part) ? -ENAMETOOLONG : -EINVAL;
	}
	memcpy(ret_name, part, strlen(part) + 1);
	*ret_fd = fd;
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int statefile_write(const char *dir, const char *rel, const void *data, size_t len)
{
	char name[256], tmp[sizeof(name) + 4];
	int dfd;
	int r = open_parent(dir, rel, true, name, sizeof(name), &dfd);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	/* O_EXCL|O_NOFOLLOW: never write into something that was already there. */
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dfd, tmp, flags, 0644);
	if (fd < 0 && errno == EEXIST) {
		/* A crash between create and rename left it (or someone planted it):
		 * remove the entry itself (a symlink's target is untouched), retry once. */
		if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT) {
			r = -errno;
			goto out;
		}
		fd = openat(dfd, tmp, flags, 0644);
	}
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	/* rename: a crash leaves the old file or the new one, never half of it */
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
out:
	close(dfd);
	return r;
}

int statefile_read(const char *dir, const char *rel, char *buf, size_t cap, size_t *ret_len)
{
	char name[256];
	int dfd;
	if (!buf || cap < 1)
		return -EINVAL;
	int r = open_parent(dir, rel, false, name, sizeof(name), &dfd);
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO planted here must not hang us in open(). */
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return -errno;
	struct stat st;
	size_t n = 0;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == cap) {
			r = -EFBIG;
			goto out;
		}
	}
	buf[n] = '\0';
	if (ret_len)
		*ret_len = n;
out:
	close(fd);
	return r;
}
