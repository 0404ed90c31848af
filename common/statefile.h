/* SPDX-License-Identifier: MIT */
/*
 * Small state files (remembered protocols, charge state) under one state
 * directory, written so that a crash, a full disk or a hostile local user can
 * neither corrupt them nor turn them into a write somewhere else:
 *  - the state directory, and every directory below it on the way to a file,
 *    must be a directory owned by the effective user and not writable by group
 *    or others (otherwise someone else could swap files under us);
 *  - below the state directory no symlink is followed, for reading or writing;
 *  - a write goes to "<name>.tmp" (O_EXCL|O_NOFOLLOW), is fsynced and renamed
 *    over the file; on any failure the temp file is removed again.
 * Pure I/O: nothing is logged here; callers log (once per failure episode).
 * One writer per file at a time (a file belongs to one thread).
 */
#ifndef SB_STATEFILE_H
#define SB_STATEFILE_H

#include <stddef.h>

/*
 * Create dir (one level, mode 0755 whatever the umask) when it is missing,
 * then check it. 0, or a negative errno:
 *   -ENOTDIR  it exists but is not a directory
 *   -EPERM    it is owned by another user
 *   -EACCES   it is writable by group or others
 *   other     mkdir/open failed (e.g. -EACCES, -EROFS, -ENOENT for a missing parent)
 */
int statefile_dir_prepare(const char *dir);

/*
 * Replace <dir>/<rel> with len bytes of data. rel is "name" or "sub/.../name"
 * (no "", "." or ".." component); missing directories below dir are created
 * (0755), dir itself too. 0, or a negative errno (the checks above, or the
 * failing call's: -ENOSPC, -EROFS, ...); on failure the old file is unchanged
 * and no temp file is left.
 */
int statefile_write(const char *dir, const char *rel, const void *data, size_t len);

/*
 * Read <dir>/<rel> (a regular file, not a symlink) into buf, NUL-terminated;
 * ret_len (optional) gets its length. 0, or a negative errno: -ENOENT when it
 * does not exist, -ELOOP for a symlink, -EINVAL when it is not a regular
 * file, -EFBIG when it does not fit in cap - 1 bytes, or the checks above.
 */
int statefile_read(const char *dir, const char *rel, char *buf, size_t cap, size_t *ret_len);

#endif
