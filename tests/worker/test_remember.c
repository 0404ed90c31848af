/* SPDX-License-Identifier: MIT */
/*
 * Remembered protocols on real files (issue 13 item 5): the state directory
 * created 0755, refused when others can write to it or it is not ours, no
 * symlink followed for reading or writing, a stale temp file from a crash
 * handled, a full or read-only disk leaving no temp file and the old file.
 * The cases that need root (chown, mount) say "skipped" without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bms/bms.h"
#include "tests/support/cunit_main.h"
#include "worker/detect.h"

#define ID "usb-FTDI_A10K1234"

static char base[64];

static int suite_init(void)
{
	snprintf(base, sizeof(base), "/tmp/sb-remember-XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int suite_clean(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh state dir path (not created) under base. */
static void fresh(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", base, name);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void get(const char *path, char *buf, size_t len)
{
	buf[0] = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static unsigned entries(const char *dir)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "find '%s' -mindepth 1 | wc -l", dir);
	FILE *p = popen(cmd, "r");
	unsigned n = 999;
	if (p) {
		if (fscanf(p, "%u", &n) != 1)
			n = 999;
		pclose(p);
	}
	return n;
}

static void test_missing_dir_created_0755(void)
{
	char dir[128], sub[160];
	fresh(dir, sizeof(dir), "missing");
	const struct bms_driver *jbd = bms_driver_find("jbd"), *d = NULL;
	mode_t old = umask(077); /* the outcome must not depend on who started us */
	int r = worker_remember_save(dir, ID, jbd, 9600, 1);
	umask(old);
	CU_ASSERT_EQUAL(r, 0);
	struct stat st;
	CU_ASSERT_FATAL(stat(dir, &st) == 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0755);
	snprintf(sub, sizeof(sub), "%s/detect", dir);
	CU_ASSERT_FATAL(stat(sub, &st) == 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0755);
	uint32_t baud = 0;
	uint8_t addr = 0;
	CU_ASSERT(worker_remember_load(dir, ID, &d, &baud, &addr) == 0);
	CU_ASSERT(d == jbd && baud == 9600 && addr == 1);
}

static void test_writable_by_others_refused(void)
{
	char dir[128], file[200];
	fresh(dir, sizeof(dir), "open");
	CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
	CU_ASSERT_FATAL(chmod(dir, 0777) == 0);
	const struct bms_driver *jbd = bms_driver_find("jbd"), *d = NULL;
	CU_ASSERT_EQUAL(worker_remember_save(dir, ID, jbd, 9600, 1), -EACCES);
	CU_ASSERT_EQUAL(entries(dir), 0);
	/* nor is anything read from it: someone else could have put it there */
	snprintf(file, sizeof(file), "%s/detect", dir);
	CU_ASSERT_FATAL(mkdir(file, 0755) == 0);
	snprintf(file, sizeof(file), "%s/detect/" ID, dir);
	put(file, "jk 115200 1\n");
	uint32_t baud;
	uint8_t addr;
	CU_ASSERT_EQUAL(worker_remember_load(dir, ID, &d, &baud, &addr), -EACCES);
	/* group-writable is another user too */
	CU_ASSERT_FATAL(chmod(dir, 0775) == 0);
	CU_ASSERT_EQUAL(worker_remember_load(dir, ID, &d, &baud, &addr), -EACCES);
	CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
	CU_ASSERT_EQUAL(worker_remember_load(dir, ID, &d, &baud, &addr), 0);
}

static void test_not_ours_refused(void)
{
	if (geteuid() != 0) {
		printf("\n    (needs root to chown: skipped) ");
		return;
	}
	char dir[128];
	fresh(dir, sizeof(dir), "foreign");
	CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
	CU_ASSERT_FATAL(chown(dir, 65534, 65534) == 0);
	const struct bms_driver *jbd = bms_driver_find("jbd");
	CU_ASSERT_EQUAL(worker_remember_save(dir, ID, jbd, 9600, 1), -EPERM);
	CU_ASSERT_EQUAL(entries(dir), 0);
}

static void test_planted_symlinks_not_followed(void)
{
	char dir[128], file[200], tmp[210], t1[160], t2[160], text[64];
	fresh(dir, sizeof(dir), "links");
	CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
	snprintf(file, sizeof(file), "%s/detect", dir);
	CU_ASSERT_FATAL(mkdir(file, 0755) == 0);
	snprintf(file, sizeof(file), "%s/detect/" ID, dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	snprintf(t1, sizeof(t1), "%s/target-file", base);
	snprintf(t2, sizeof(t2), "%s/target-tmp", base);
	put(t1, "jk 115200 1\n");
	put(t2, "precious\n");
	CU_ASSERT_FATAL(symlink(t1, file) == 0);
	CU_ASSERT_FATAL(symlink(t2, tmp) == 0);

	const struct bms_driver *jbd = bms_driver_find("jbd"), *d = NULL;
	uint32_t baud;
	uint8_t addr;
	CU_ASSERT_EQUAL(worker_remember_load(dir, ID, &d, &baud, &addr), -ELOOP);
	CU_ASSERT_EQUAL(worker_remember_save(dir, ID, jbd, 9600, 1), 0);
	get(t1, text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "jk 115200 1\n");
	get(t2, text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "precious\n");
	struct stat st;
	CU_ASSERT(lstat(file, &st) == 0 && S_ISREG(st.st_mode));
	CU_ASSERT(!exists(tmp));
	CU_ASSERT(worker_remember_load(dir, ID, &d, &baud, &addr) == 0 && d == jbd);

	/* a stale temp file from a crash (a regular file) does not wedge us either */
	put(tmp, "half");
	CU_ASSERT_EQUAL(worker_remember_save(dir, ID, bms_driver_find("daly"), 9600, 1), 0);
	CU_ASSERT(!exists(tmp));
	CU_ASSERT(worker_remember_load(dir, ID, &d, &baud, &addr) == 0 &&
		  d == bms_driver_find("daly"));
}

static void test_symlinked_subdir_not_followed(void)
{
	char dir[128], sub[160], other[160];
	fresh(dir, sizeof(dir), "subdir");
	CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
	snprintf(other, sizeof(other), "%s/elsewhere", base);
	CU_ASSERT_FATAL(mkdir(other, 0755) == 0);
	snprintf(sub, sizeof(sub), "%s/detect", dir);
	CU_ASSERT_FATAL(symlink(other, sub) == 0);
	CU_ASSERT(worker_remember_save(dir, ID, bms_driver_find("jbd"), 9600, 1) < 0);
	CU_ASSERT_EQUAL(entries(other), 0);
}

/* A small tmpfs, owned by us and 0755; 0 when mounted. */
static int small_tmpfs(const char *dir, const char *opts)
{
	if (geteuid() != 0)
		return -EPERM;
	mkdir(dir, 0755);
	return mount("sb-remember", dir, "tmpfs", 0, opts) == 0 ? 0 : -errno;
}

static void test_full_and_read_only(void)
{
	char dir[128], fill[160], file[200], text[64];
	fresh(dir, sizeof(dir), "full");
	if (small_tmpfs(dir, "size=64k,mode=0755") < 0) {
		printf("\n    (needs root and mount: skipped) ");
		return;
	}
	const struct bms_driver *jbd = bms_driver_find("jbd"), *d = NULL;
	CU_ASSERT_EQUAL(worker_remember_save(dir, ID, jbd, 9600, 1), 0);
	snprintf(fill, sizeof(fill), "%s/fill", dir);
	int fd = open(fill, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	static const char page[4096];
	while (write(fd, page, sizeof(page)) > 0)
		;
	close(fd);
	CU_ASSERT_EQUAL(worker_remember_save(dir, ID, bms_driver_find("daly"), 9600, 1), -ENOSPC);
	snprintf(file, sizeof(file), "%s/detect/" ID, dir);
	get(file, text, sizeof(text));
	CU_ASSERT_STRING_EQUAL(text, "jbd 9600 1\n"); /* the old one, whole */
	CU_ASSERT_EQUAL(entries(dir), 3);             /* detect, its file, fill: no temp */
	unlink(fill);

	CU_ASSERT_FATAL(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
	CU_ASSERT_EQUAL(worker_remember_save(dir, ID, bms_driver_find("daly"), 9600, 1), -EROFS);
	uint32_t baud;
	uint8_t addr;
	CU_ASSERT(worker_remember_load(dir, ID, &d, &baud, &addr) == 0 && d == jbd);
	CU_ASSERT_EQUAL(entries(dir), 2);
	CU_ASSERT(umount(dir) == 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"missing_dir_created_0755", test_missing_dir_created_0755},
		{"writable_by_others_refused", test_writable_by_others_refused},
		{"not_ours_refused", test_not_ours_refused},
		{"planted_symlinks_not_followed", test_planted_symlinks_not_followed},
		{"symlinked_subdir_not_followed", test_symlinked_subdir_not_followed},
		{"full_and_read_only", test_full_and_read_only},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("worker_remember", suite_init, suite_clean, tests);
}
