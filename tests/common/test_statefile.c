/* SPDX-License-Identifier: MIT */
/*
 * The shared state-file writer's own edges, on real files (the remembered
 * protocol and charge state tests cover the outcomes its callers see): what
 * a read refuses, which names are refused, and that a directory in the way
 * of the file is never replaced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/statefile.h"
#include "tests/support/cunit_main.h"

static char dir[64];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sb-statefile-XXXXXX");
	return mkdtemp(dir) && chmod(dir, 0755) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip(void)
{
	char buf[32];
	size_t n = 0;
	CU_ASSERT_EQUAL(statefile_write(dir, "a/b/c.state", "hello\n", 6), 0);
	CU_ASSERT_EQUAL(statefile_read(dir, "a/b/c.state", buf, sizeof(buf), &n), 0);
	CU_ASSERT_STRING_EQUAL(buf, "hello\n");
	CU_ASSERT_EQUAL(n, 6);
	CU_ASSERT_EQUAL(statefile_read(dir, "a/b/none", buf, sizeof(buf), NULL), -ENOENT);
	CU_ASSERT_EQUAL(statefile_read(dir, "x/none", buf, sizeof(buf), NULL), -ENOENT);
}

static void test_read_refusals(void)
{
	char path[128], buf[8];
	/* a FIFO would block a plain open() forever */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CU_ASSERT_FATAL(mkfifo(path, 0644) == 0);
	CU_ASSERT_EQUAL(statefile_read(dir, "fifo", buf, sizeof(buf), NULL), -EINVAL);
	/* too big for the caller's buffer: refused whole, never cut */
	CU_ASSERT_EQUAL(statefile_write(dir, "big", "0123456789", 10), 0);
	CU_ASSERT_EQUAL(statefile_read(dir, "big", buf, sizeof(buf), NULL), -EFBIG);
	CU_ASSERT_EQUAL(statefile_write(dir, "fits", "0123456", 7), 0);
	CU_ASSERT_EQUAL(statefile_read(dir, "fits", buf, sizeof(buf), NULL), 0);
	CU_ASSERT_STRING_EQUAL(buf, "0123456");
}

static void test_bad_names(void)
{
	char buf[8];
	static const char *const bad[] = {"", ".", "..", "../x", "a/../x", "a//x", "a/", NULL};
	for (const char *const *b = bad; *b; b++) {
		CU_ASSERT_EQUAL(statefile_write(dir, *b, "x", 1), -EINVAL);
		CU_ASSERT_EQUAL(statefile_read(dir, *b, buf, sizeof(buf), NULL), -EINVAL);
	}
	CU_ASSERT_EQUAL(statefile_write("", "x", "x", 1), -EINVAL);
	CU_ASSERT_EQUAL(statefile_dir_prepare(""), -EINVAL);
}

static void test_directory_in_the_way(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/isdir", dir);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	CU_ASSERT(statefile_write(dir, "isdir", "x", 1) < 0);
	struct stat st;
	CU_ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/isdir.tmp", dir);
	CU_ASSERT(access(path, F_OK) != 0);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"round_trip", test_round_trip},
		{"read_refusals", test_read_refusals},
		{"bad_names", test_bad_names},
		{"directory_in_the_way", test_directory_in_the_way},
		{NULL, NULL},
	};
	return sb_add_suite_fixture("statefile", suite_init, suite_clean, tests);
}
