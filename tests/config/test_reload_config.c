/* SPDX-License-Identifier: MIT */
/*
 * What a SIGHUP compares and how it parses: settings compared value by value
 * (never padding), the section-wide serial settings apart from the port list,
 * and the parse in a child process giving the same result as in-process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sbtime.h"

#include "config/schema.h"
#include "tests/support/cunit_main.h"

static const char *const conf_text =
	"serial = { retries = 2; ports = ( { path = \"/dev/ttyUSB0\"; addresses = [1, 2]; } ); };\n"
	"charge = { max_charge_current = 80.0; ccl_socs = [90.0, 100.0]; "
	"ccl_soc_fractions = [1.0, 0.5]; };\n"
	"publish = { bank_packs = [\"a\", \"b\"]; };\n";

/* Load conf_text into a struct whose padding holds garbage. */
static struct sb_config *load_dirty(int fill)
{
	struct sb_config *c = malloc(sizeof(*c));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(c, fill, sizeof(*c));
	struct cfg_error err;
	int r = cfg_load_string(&sb_config_schema, c, conf_text, "t.conf", &err);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	return c;
}

static void test_equal_ignores_padding(void)
{
	struct sb_config *a = load_dirty(0x00), *b = load_dirty(0x5a);
	/* the raw bytes differ (padding, unused list slots): memcmp would restart threads */
	CU_ASSERT(memcmp(&a->charge, &b->charge, sizeof(a->charge)) != 0 ||
		  memcmp(&a->serial, &b->serial, sizeof(a->serial)) != 0);
	CU_ASSERT(sb_config_publisher_equal(a, b));
	CU_ASSERT(worker_section_equal(&a->serial, &b->serial));
	CU_ASSERT(worker_port_config_equal(&a->serial.ports[0], &b->serial.ports[0]));
	free(a);
	free(b);
}

static void test_equal_sees_changes(void)
{
	struct sb_config *a = load_dirty(0), *b = load_dirty(0);
	b->charge.max_charge_current = 79.5;
	CU_ASSERT(!sb_config_publisher_equal(a, b));
	*b = *a;
	b->charge.ccl_soc_fractions.v[1] = 0.4;
	CU_ASSERT(!sb_config_publisher_equal(a, b));
	*b = *a;
	snprintf(b->publish.bank_packs.v[1], CFG_STR, "c");
	CU_ASSERT(!sb_config_publisher_equal(a, b));
	*b = *a;
	/* a value past the list's length is not a setting */
	b->charge.ccl_socs.v[5] = 12.0;
	CU_ASSERT(sb_config_publisher_equal(a, b));

	*b = *a;
	b->serial.ports[0].addresses.v[1] = 3;
	CU_ASSERT(!worker_port_config_equal(&a->serial.ports[0], &b->serial.ports[0]));
	/* the port list is the supervisor's per-port business, not a section-wide change */
	CU_ASSERT(worker_section_equal(&a->serial, &b->serial));
	b->serial.nports = 0;
	CU_ASSERT(worker_section_equal(&a->serial, &b->serial));
	b->serial.retries = 3;
	CU_ASSERT(!worker_section_equal(&a->serial, &b->serial));
	free(a);
	free(b);
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/sb-reload-conf.XXXXXX");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_isolated_same_as_in_process(void)
{
	char *path = write_tmp(conf_text);
	struct sb_config *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct cfg_error err;
	CU_ASSERT_EQUAL(sb_config_load(path, a, &err), 0);
	CU_ASSERT_EQUAL(sb_config_load_isolated(path, 5000, b, &err), 0);
	CU_ASSERT(sb_config_publisher_equal(a, b));
	CU_ASSERT(worker_section_equal(&a->serial, &b->serial));
	CU_ASSERT_EQUAL(b->serial.nports, 1);
	CU_ASSERT(worker_port_config_equal(&a->serial.ports[0], &b->serial.ports[0]));
	CU_ASSERT_DOUBLE_EQUAL(b->charge.max_charge_current, 80.0, 1e-9);
	unlink(path);
	free(path);
	free(a);
	free(b);
}

static void test_isolated_error_names_file_and_line(void)
{
	char *path = write_tmp(
		"charge = {\n  max_charge_current = 80.0;\n  max_cell_voltage = 9.0;\n};\n");
	struct sb_config *c = calloc(1, sizeof(*c));
	c->charge.max_charge_current = 1.0;
	struct cfg_error err;
	CU_ASSERT(sb_config_load_isolated(path, 5000, c, &err) < 0);
	CU_ASSERT_STRING_EQUAL(err.file, path);
	CU_ASSERT_EQUAL(err.line, 3);
	CU_ASSERT(strstr(err.key, "max_cell_voltage") != NULL);
	/* the running config is untouched */
	CU_ASSERT_DOUBLE_EQUAL(c->charge.max_charge_current, 1.0, 1e-9);
	unlink(path);
	free(path);

	CU_ASSERT(sb_config_load_isolated("/nonexistent/sb.conf", 5000, c, &err) < 0);
	CU_ASSERT_STRING_EQUAL(err.file, "/nonexistent/sb.conf");
	free(c);
}

/* A FIFO with no writer as the config file: the child blocks in open(); the
 * reload gives up at its deadline instead of hanging the supervisor. */
static void test_isolated_times_out(void)
{
	char dir[] = "/tmp/sb-reload-fifo.XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/sb.conf", dir);
	CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error err;
	uint64_t t0 = time_mono_ms();
	CU_ASSERT_EQUAL(sb_config_load_isolated(path, 300, c, &err), -EIO);
	uint64_t took = time_mono_ms() - t0;
	CU_ASSERT(took >= 300 && took < 5000);
	CU_ASSERT(strstr(err.msg, "no answer in time") != NULL);
	free(c);
	unlink(path);
	rmdir(dir);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"equal_ignores_padding", test_equal_ignores_padding},
		{"equal_sees_changes", test_equal_sees_changes},
		{"isolated_same_as_in_process", test_isolated_same_as_in_process},
		{"isolated_error_names_file_and_line", test_isolated_error_names_file_and_line},
		{"isolated_times_out", test_isolated_times_out},
		{NULL, NULL},
	};
	return sb_add_suite("reload_config", tests);
}
