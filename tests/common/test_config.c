/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "tests/support/cunit_main.h"

struct port {
	char path[CFG_STR];
	int64_t baud;
};

struct sec {
	bool flag;
	int64_t count;
	double volts;
	char name[CFG_STR];
	int mode;
	struct cfg_dlist table;
	struct cfg_ilist addrs;
	struct cfg_slist names;
	double nested;
	int64_t big;
	struct port ports[4];
	unsigned nports;
};

struct root {
	struct sec a;
};

static const char *const modes[] = {"off", "on", "auto", NULL};

static const struct cfg_key port_keys[] = {
	{.path = "path", .type = CFG_STRING, .offset = offsetof(struct port, path), .doc = "port"},
	{.path = "baud",
	 .type = CFG_INT,
	 .offset = offsetof(struct port, baud),
	 .min = 1200,
	 .max = 115200,
	 .def = "9600",
	 .doc = "baud"},
	{NULL},
};

static const struct cfg_key keys[] = {
	{.path = "flag",
	 .type = CFG_BOOL,
	 .offset = offsetof(struct sec, flag),
	 .def = "true",
	 .doc = "a flag"},
	{.path = "count",
	 .type = CFG_INT,
	 .offset = offsetof(struct sec, count),
	 .min = 0,
	 .max = 10,
	 .def = "3",
	 .doc = "a count"},
	{.path = "volts",
	 .type = CFG_DOUBLE,
	 .offset = offsetof(struct sec, volts),
	 .min = 2.0,
	 .max = 4.0,
	 .def = "3.45",
	 .doc = "volts"},
	{.path = "name",
	 .type = CFG_STRING,
	 .offset = offsetof(struct sec, name),
	 .def = "\"x\"",
	 .doc = "name"},
	{.path = "mode",
	 .type = CFG_ENUM,
	 .offset = offsetof(struct sec, mode),
	 .def = "\"auto\"",
	 .choices = modes,
	 .doc = "mode"},
	{.path = "table",
	 .type = CFG_DOUBLE_LIST,
	 .offset = offsetof(struct sec, table),
	 .min = 0,
	 .max = 1,
	 .def = "[0.0, 0.5, 1.0]",
	 .doc = "table"},
	{.path = "addrs",
	 .type = CFG_INT_LIST,
	 .offset = offsetof(struct sec, addrs),
	 .min = 1,
	 .max = 15,
	 .doc = "addresses"},
	{.path = "names",
	 .type = CFG_STRING_LIST,
	 .offset = offsetof(struct sec, names),
	 .doc = "names"},
	{.path = "deep.nested",
	 .type = CFG_DOUBLE,
	 .offset = offsetof(struct sec, nested),
	 .min = -1,
	 .max = 1,
	 .def = "0.5",
	 .doc = "nested"},
	{.path = "big",
	 .type = CFG_INT,
	 .offset = offsetof(struct sec, big),
	 .min = 0,
	 .max = 1e12,
	 .def = "0",
	 .doc = "beyond 32 bits"},
	{.path = "ports",
	 .type = CFG_GROUP_LIST,
	 .offset = offsetof(struct sec, ports),
	 .sub = port_keys,
	 .elem_size = sizeof(struct port),
	 .max_count = 4,
	 .count_offset = offsetof(struct sec, nports),
	 .doc = "ports"},
	{NULL},
};

/* Cross-key checks of the kinds the daemon's modules make: a plain key, a list
 * entry, a key inside a group-list element, two lists of one length. */
static int validate(const void *p, struct cfg_invalid *ret)
{
	const struct sec *s = p;
	if (s->count == 7)
		return cfg_invalid(ret, "count", "seven is unlucky");
	if (s->addrs.n && s->addrs.n != s->table.n)
		return cfg_invalid(ret, "addrs", "must have as many values as table");
	for (unsigned i = 1; i < s->addrs.n; i++)
		if (s->addrs.v[i] <= s->addrs.v[i - 1]) {
			char key[32];
			snprintf(key, sizeof(key), "addrs[%u]", i);
			return cfg_invalid(ret, key, "must be above addrs[%u]", i - 1);
		}
	for (unsigned i = 0; i < s->nports; i++)
		if (!s->ports[i].path[0]) {
			char key[32];
			snprintf(key, sizeof(key), "ports[%u].path", i);
			return cfg_invalid(ret, key, "must be set");
		}
	return 0;
}

static const struct cfg_section sections[] = {
	{.name = "a",
	 .doc = "section a",
	 .keys = keys,
	 .offset = offsetof(struct root, a),
	 .validate = validate},
	{NULL},
};
static const struct cfg_schema schema = {.sections = sections};

static int load(const char *text, struct root *r, struct cfg_error *e)
{
	memset(r, 0xAB, sizeof(*r));
	return cfg_load_string(&schema, r, text, "test.conf", e);
}

static void test_defaults(void)
{
	struct root r;
	struct cfg_error e;
	CU_ASSERT_FATAL(load("", &r, &e) == 0);
	CU_ASSERT(r.a.flag == true);
	CU_ASSERT(r.a.count == 3);
	CU_ASSERT_DOUBLE_EQUAL(r.a.volts, 3.45, 1e-9);
	CU_ASSERT_STRING_EQUAL(r.a.name, "x");
	CU_ASSERT(r.a.mode == 2);
	CU_ASSERT(r.a.table.n == 3);
	CU_ASSERT_DOUBLE_EQUAL(r.a.table.v[1], 0.5, 1e-9);
	CU_ASSERT(r.a.addrs.n == 0);
	CU_ASSERT(r.a.names.n == 0);
	CU_ASSERT_DOUBLE_EQUAL(r.a.nested, 0.5, 1e-9);
	CU_ASSERT(r.a.nports == 0);
}

static void test_values(void)
{
	struct root r;
	struct cfg_error e;
	const char *text =
		"a = { flag = false; count = 10; volts = 3; name = \"jk\"; mode = \"on\";\n"
		"  table = [0.25, 0.5, 1.0]; addrs = [1, 2, 15]; names = [\"x\", \"y\"];\n"
		"  deep = { nested = -0.5; };\n"
		"  ports = ( { path = \"/dev/ttyUSB0\"; }, { path = \"/dev/ttyS1\"; baud = 115200; "
		"} ); };";
	CU_ASSERT_FATAL(load(text, &r, &e) == 0);
	CU_ASSERT(r.a.flag == false);
	CU_ASSERT(r.a.count == 10);
	CU_ASSERT_DOUBLE_EQUAL(r.a.volts, 3.0, 1e-9); /* an integer accepted for a number */
	CU_ASSERT_STRING_EQUAL(r.a.name, "jk");
	CU_ASSERT(r.a.mode == 1);
	CU_ASSERT(r.a.table.n == 3);
	CU_ASSERT(r.a.addrs.n == 3 && r.a.addrs.v[2] == 15);
	CU_ASSERT(r.a.names.n == 2);
	CU_ASSERT_STRING_EQUAL(r.a.names.v[1], "y");
	CU_ASSERT_DOUBLE_EQUAL(r.a.nested, -0.5, 1e-9);
	CU_ASSERT(r.a.nports == 2);
	CU_ASSERT_STRING_EQUAL(r.a.ports[0].path, "/dev/ttyUSB0");
	CU_ASSERT(r.a.ports[0].baud == 9600); /* element default */
	CU_ASSERT(r.a.ports[1].baud == 115200);
}

static void expect_error(const char *text, int line, const char *key, const char *msg_part)
{
	struct root r;
	struct cfg_error e;
	int rc = load(text, &r, &e);
	CU_ASSERT(rc == -EINVAL);
	if (rc != -EINVAL)
		return;
	CU_ASSERT_STRING_EQUAL(e.file, "test.conf");
	CU_ASSERT_EQUAL(e.line, line);
	CU_ASSERT_STRING_EQUAL(e.key, key);
	if (!strstr(e.msg, msg_part))
		fprintf(stderr, "\nmessage '%s' lacks '%s'\n", e.msg, msg_part);
	CU_ASSERT(strstr(e.msg, msg_part) != NULL);
	char buf[600];
	cfg_error_format(&e, buf, sizeof(buf));
	CU_ASSERT(strstr(buf, "test.conf:") == buf);
}

static void test_errors(void)
{
	expect_error("a = {\n count = 11; };", 2, "a.count", "out of range");
	expect_error("a = {\n\n volts = 1.5; };", 3, "a.volts", "out of range");
	expect_error("a = { count = \"3\"; };", 1, "a.count", "expected an integer");
	expect_error("a = { count = 2.5; };", 1, "a.count", "expected an integer");
	expect_error("a = { flag = 1; };", 1, "a.flag", "expected true or false");
	expect_error("a = { name = 5; };", 1, "a.name", "expected a string");
	expect_error("a = { mode = \"fast\"; };", 1, "a.mode", "not one of");
	expect_error("a = { table = [0.5, 2.0]; };", 1, "a.table[1]", "out of range");
	expect_error("a = { table = 0.5; };", 1, "a.table", "expected an array");
	expect_error("a = { addrs = [0]; };", 1, "a.addrs[0]", "out of range");
	expect_error("a = {\n ports = ( { path = \"x\"; },\n { baud = 5; } ); };", 3,
		     "a.ports[1].baud", "out of range");
	expect_error("a = { deep = { nested = 3.0; }; };", 1, "a.deep.nested", "out of range");
	expect_error("a = 5;", 1, "a", "expected a group");
	expect_error("a = {\n count = 7; };", 2, "a.count", "unlucky"); /* validate() */
	expect_error("a = { count = ; };", 1, "", "syntax error");
}

/* A key the schema does not know is an error at its line, with the closest
 * known key of the same place when it looks like a typo. */
static void test_unknown_keys(void)
{
	expect_error("a = { count = 2;\n cuont = 1; };", 2, "a.cuont",
		     "unknown, did you mean 'count'?");
	expect_error("a = { count = 2;\n\n bogus = 1; };", 3, "a.bogus", "unknown");
	expect_error("a = { ports = ( { path = \"p\";\n baudd = 3; } ); };", 2, "a.ports[0].baudd",
		     "unknown, did you mean 'baud'?");
	expect_error("a = { deep = {\n nestde = 0.5; }; };", 2, "a.deep.nestde",
		     "unknown, did you mean 'deep.nested'?");
	expect_error("a = { deep = 1; };", 1, "a.deep", "expected a group");
	expect_error("a = { count = 2; };\nzzz = 1;", 2, "zzz", "unknown");
	expect_error("b = { count = 2; };", 1, "b", "unknown, did you mean 'a'?");
	/* reported before the bad value on the line above it: the typo is the cause */
	expect_error("a = { count = 99;\n volst = 3.0; };", 2, "a.volst",
		     "unknown, did you mean 'volts'?");

	struct root r;
	struct cfg_error e;
	CU_ASSERT(load("a = { bogus = 1; };", &r, &e) == -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.msg, "unknown"); /* no far-fetched suggestion */
	char buf[600];
	CU_ASSERT(load("a = {\n  count = 2;\n  cuont = 1;\n};", &r, &e) == -EINVAL);
	cfg_error_format(&e, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "test.conf:3: a.cuont: unknown, did you mean 'count'?");
}

/* libconfig keeps an integer without the L suffix in 32 bits: 4294967297
 * would read as 1 and 4294967306 as 10. Values must be seen as written. */
static void test_integers_64bit(void)
{
	struct root r;
	struct cfg_error e;
	CU_ASSERT_FATAL(load("a = { big = 4294967297; addrs = [1, 2]; table = [0.0, 1.0]; };", &r,
			     &e) == 0);
	CU_ASSERT(r.a.big == 4294967297LL);
	CU_ASSERT_FATAL(load("a = { big = 0x2540BE3FF; };", &r, &e) == 0);
	CU_ASSERT(r.a.big == 9999999999LL);
	CU_ASSERT_FATAL(load("a = { big = 123456789012L; count = -0; };", &r, &e) == 0);
	CU_ASSERT(r.a.big == 123456789012LL);

	expect_error("a = {\n count = 4294967297; };", 2, "a.count",
		     "value 4294967297 out of range [0, 10]");
	expect_error("a = { count = 4294967306; };", 1, "a.count", "value 4294967306 out of range");
	expect_error("a = { count = 99999999999; };", 1, "a.count", "value 99999999999 out");
	expect_error("a = { count = -4294967295; };", 1, "a.count", "value -4294967295 out");
	expect_error("a = { count = 0x100000003; };", 1, "a.count", "value 4294967299 out");
	expect_error("a = { big = 1000000000001; };", 1, "a.big", "value 1000000000001 out");
	expect_error("a = { count = 99999999999999999999; };", 1, "a.count",
		     "does not fit in 64 bits");
	expect_error("a = { count = -99999999999999999999L; };", 1, "a.count",
		     "does not fit in 64 bits");
	expect_error("a = { big = 0x1FFFFFFFFFFFFFFFF; };", 1, "a.big", "does not fit in 64 bits");
	expect_error("a = { volts = 4294967299; };", 1, "a.volts", "out of range");
	expect_error("a = { volts = 99999999999999999999; };", 1, "a.volts", "out of range");
	/* list entries, at the entry's own line */
	expect_error("a = { table = [0.0, 1.0];\n addrs = [1,\n 4294967298]; };", 3, "a.addrs[1]",
		     "value 4294967298 out of range [1, 15]");
	expect_error("a = { addrs = [99999999999999999999]; };", 1, "a.addrs[0]",
		     "does not fit in 64 bits");
	expect_error("a = { table = [0,\n 4294967297]; };", 2, "a.table[1]", "out of range");
	expect_error("a = { ports = ( { path = \"p\";\n baud = 4294977296; } ); };", 2,
		     "a.ports[0].baud", "value 4294977296 out of range");
	/* floats in every form libconfig takes stay floats */
	CU_ASSERT_FATAL(load("a = { volts = .35e1; deep = { nested = -.5; }; table = [0., 1e-1, "
			     "1.0E0]; };",
			     &r, &e) == 0);
	CU_ASSERT_DOUBLE_EQUAL(r.a.volts, 3.5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.a.nested, -0.5, 1e-12);
	CU_ASSERT(r.a.table.n == 3);
	CU_ASSERT_DOUBLE_EQUAL(r.a.table.v[1], 0.1, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.a.table.v[2], 1.0, 1e-12);
	/* a file may end anywhere, even inside a name */
	expect_error("a = { flag = true", 1, "", "syntax error");
	expect_error("a = { count = 12", 1, "", "syntax error");
	expect_error("a = { name = \"x", 1, "", "syntax error");
	CU_ASSERT(load("a = { count = 1; } /* x", &r, &e) == 0); /* libconfig takes it */
	/* digits inside names, strings and comments are not numbers */
	CU_ASSERT(load("# 99999999999\na = { name = \"4294967297\"; /* 1 */ count = 1; };", &r,
		       &e) == 0);
	CU_ASSERT_STRING_EQUAL(r.a.name, "4294967297");
	CU_ASSERT(r.a.count == 1);
}

/* A cross-key error from the section's validate callback points at the key
 * it names: a plain key, a list entry, a key in a group-list element. */
static void test_cross_key_lines(void)
{
	expect_error("a = {\n table = [0.0, 1.0];\n addrs = [1, 2, 3]; };", 3, "a.addrs",
		     "must have as many values as table");
	expect_error("a = { table = [0.0, 0.5, 1.0];\n addrs = [1,\n 3,\n 2]; };", 4, "a.addrs[2]",
		     "must be above addrs[1]");
	expect_error("a = { ports = (\n { path = \"x\"; },\n { path = \"\"; baud = 9600; } ); };",
		     3, "a.ports[1].path", "must be set");
	/* a key the file does not set: its group's line, and the message says why */
	expect_error("a = { ports = (\n { path = \"x\"; },\n { baud = 9600; } ); };", 3,
		     "a.ports[1].path", "must be set (ports[1].path is not set here");
}

static void test_missing_file(void)
{
	struct root r;
	struct cfg_error e;
	int rc = cfg_load_file(&schema, &r, "/nonexistent/sb.conf", &e);
	CU_ASSERT(rc == -ENOENT);
	CU_ASSERT_STRING_EQUAL(e.file, "/nonexistent/sb.conf");
	CU_ASSERT(strstr(e.msg, "cannot open") != NULL);
}

static void test_file_line(void)
{
	char path[] = "/tmp/sb-test-config-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	const char *text = "# comment\na = {\n  flag = true;\n  volts = 9.0;\n};\n";
	CU_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	struct root r;
	struct cfg_error e;
	CU_ASSERT(cfg_load_file(&schema, &r, path, &e) == -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.file, path);
	CU_ASSERT(e.line == 4);
	CU_ASSERT_STRING_EQUAL(e.key, "a.volts");

	/* an unknown key and a wrapped integer, read from a file */
	text = "a = {\n  flag = true;\n  max_cuont = 3;\n};\n";
	CU_ASSERT_FATAL(truncate(path, 0) == 0);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CU_ASSERT(cfg_load_file(&schema, &r, path, &e) == -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.file, path);
	CU_ASSERT(e.line == 3);
	CU_ASSERT_STRING_EQUAL(e.key, "a.max_cuont");
	CU_ASSERT_STRING_EQUAL(e.msg, "unknown");
	text = "a = {\n  flag = true;\n  cuont = 3;\n};\n";
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CU_ASSERT(cfg_load_file(&schema, &r, path, &e) == -EINVAL);
	CU_ASSERT(e.line == 3);
	CU_ASSERT_STRING_EQUAL(e.msg, "unknown, did you mean 'count'?");
	text = "a = {\n  count = 4294967297;\n};\n";
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CU_ASSERT(cfg_load_file(&schema, &r, path, &e) == -EINVAL);
	CU_ASSERT(e.line == 2);
	CU_ASSERT_STRING_EQUAL(e.key, "a.count");
	unlink(path);
}

/* Whatever cfg_dump writes must load back to the same values. */
static void test_dump_roundtrip(void)
{
	struct root r1, r2;
	struct cfg_error e;
	const char *text = "a = { count = 9; name = \"q\\\"uote\"; addrs = [3, 4];\n"
			   "  names = [\"n1\"]; deep = { nested = 0.125; }; table = [0.5, 1.0];\n"
			   "  big = 999999999999;\n"
			   "  ports = ( { path = \"/dev/a\"; baud = 19200; } ); };";
	CU_ASSERT_FATAL(load(text, &r1, &e) == 0);
	for (int docs = 0; docs < 2; docs++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		cfg_dump(&schema, &r1, f, docs != 0);
		fclose(f);
		int rc = load(buf, &r2, &e);
		if (rc)
			fprintf(stderr, "\n%s\n-> %s:%d %s %s\n", buf, e.file, e.line, e.key,
				e.msg);
		CU_ASSERT(rc == 0);
		CU_ASSERT(r2.a.count == 9);
		CU_ASSERT_STRING_EQUAL(r2.a.name, "q\"uote");
		CU_ASSERT(r2.a.addrs.n == 2 && r2.a.addrs.v[1] == 4);
		CU_ASSERT_DOUBLE_EQUAL(r2.a.nested, 0.125, 1e-12);
		CU_ASSERT(r2.a.nports == 1 && r2.a.ports[0].baud == 19200);
		CU_ASSERT(r2.a.table.n == 2);
		CU_ASSERT(r2.a.big == 999999999999LL);
		free(buf);
	}
	CU_ASSERT(cfg_key_count(&schema) == 13);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"defaults", test_defaults},
		{"values", test_values},
		{"errors_name_file_line_key", test_errors},
		{"unknown_keys_are_errors", test_unknown_keys},
		{"integers_read_as_64_bits", test_integers_64bit},
		{"cross_key_errors_name_the_line", test_cross_key_lines},
		{"missing_file", test_missing_file},
		{"file_line", test_file_line},
		{"dump_roundtrip", test_dump_roundtrip},
		{NULL, NULL},
	};
	return sb_add_suite("config", tests);
}
