/* SPDX-License-Identifier: MIT */
#include <errno.h>
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
	struct port ports[4];
	unsigned nports;
};

struct root {
	struct sec a;
};

static const char *const modes[] = {"off", "on", "auto", NULL};

static const struct cfg_key port_keys[] = {
	{.path = "path", .type = CFG_STRING, .offset = offsetof(struct port, path), .doc = "port"},
	{.path = "baud", .type = CFG_INT, .offset = offsetof(struct port, baud), .min = 1200,
	 .max = 115200, .def = "9600", .doc = "baud"},
	{NULL},
};

static const struct cfg_key keys[] = {
	{.path = "flag", .type = CFG_BOOL, .offset = offsetof(struct sec, flag), .def = "true",
	 .doc = "a flag"},
	{.path = "count", .type = CFG_INT, .offset = offsetof(struct sec, count), .min = 0,
	 .max = 10, .def = "3", .doc = "a count"},
	{.path = "volts", .type = CFG_DOUBLE, .offset = offsetof(struct sec, volts), .min = 2.0,
	 .max = 4.0, .def = "3.45", .doc = "volts"},
	{.path = "name", .type = CFG_STRING, .offset = offsetof(struct sec, name),
	 .def = "\"x\"", .doc = "name"},
	{.path = "mode", .type = CFG_ENUM, .offset = offsetof(struct sec, mode), .def = "\"auto\"",
	 .choices = modes, .doc = "mode"},
	{.path = "table", .type = CFG_DOUBLE_LIST, .offset = offsetof(struct sec, table),
	 .min = 0, .max = 1, .def = "[0.0, 0.5, 1.0]", .doc = "table"},
	{.path = "addrs", .type = CFG_INT_LIST, .offset = offsetof(struct sec, addrs), .min = 1,
	 .max = 15, .doc = "addresses"},
	{.path = "names", .type = CFG_STRING_LIST, .offset = offsetof(struct sec, names),
	 .doc = "names"},
	{.path = "deep.nested", .type = CFG_DOUBLE, .offset = offsetof(struct sec, nested),
	 .min = -1, .max = 1, .def = "0.5", .doc = "nested"},
	{.path = "ports", .type = CFG_GROUP_LIST, .offset = offsetof(struct sec, ports),
	 .sub = port_keys, .elem_size = sizeof(struct port), .max_count = 4,
	 .count_offset = offsetof(struct sec, nports), .doc = "ports"},
	{NULL},
};

static int validate(const void *p, char *err, size_t len)
{
	const struct sec *s = p;
	if (s->count == 7) {
		snprintf(err, len, "count: seven is unlucky");
		return -EINVAL;
	}
	return 0;
}

static const struct cfg_section sections[] = {
	{.name = "a", .doc = "section a", .keys = keys, .offset = offsetof(struct root, a),
	 .validate = validate},
	{NULL},
};
static const struct cfg_schema schema = {.sections = sections};

struct warns {
	int n;
	int line;
	char key[128];
};

static void on_warn(void *ctx, const char *file, int line, const char *key)
{
	(void)file;
	struct warns *w = ctx;
	w->n++;
	w->line = line;
	snprintf(w->key, sizeof(w->key), "%s", key);
}

static int load(const char *text, struct root *r, struct cfg_error *e, struct warns *w)
{
	memset(r, 0xAB, sizeof(*r));
	return cfg_load_string(&schema, r, text, "test.conf", on_warn, w, e);
}

static void test_defaults(void)
{
	struct root r;
	struct cfg_error e;
	struct warns w = {0};
	CU_ASSERT_FATAL(load("", &r, &e, &w) == 0);
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
	CU_ASSERT(w.n == 0);
}

static void test_values(void)
{
	struct root r;
	struct cfg_error e;
	struct warns w = {0};
	const char *text = "a = { flag = false; count = 10; volts = 3; name = \"jk\"; mode = \"on\";\n"
			   "  table = [0.25, 1.0]; addrs = [1, 2, 15]; names = [\"x\", \"y\"];\n"
			   "  deep = { nested = -0.5; };\n"
			   "  ports = ( { path = \"/dev/ttyUSB0\"; }, { path = \"/dev/ttyS1\"; baud = 115200; } ); };";
	CU_ASSERT_FATAL(load(text, &r, &e, &w) == 0);
	CU_ASSERT(r.a.flag == false);
	CU_ASSERT(r.a.count == 10);
	CU_ASSERT_DOUBLE_EQUAL(r.a.volts, 3.0, 1e-9); /* an integer accepted for a number */
	CU_ASSERT_STRING_EQUAL(r.a.name, "jk");
	CU_ASSERT(r.a.mode == 1);
	CU_ASSERT(r.a.table.n == 2);
	CU_ASSERT(r.a.addrs.n == 3 && r.a.addrs.v[2] == 15);
	CU_ASSERT(r.a.names.n == 2);
	CU_ASSERT_STRING_EQUAL(r.a.names.v[1], "y");
	CU_ASSERT_DOUBLE_EQUAL(r.a.nested, -0.5, 1e-9);
	CU_ASSERT(r.a.nports == 2);
	CU_ASSERT_STRING_EQUAL(r.a.ports[0].path, "/dev/ttyUSB0");
	CU_ASSERT(r.a.ports[0].baud == 9600); /* element default */
	CU_ASSERT(r.a.ports[1].baud == 115200);
	CU_ASSERT(w.n == 0);
}

static void expect_error(const char *text, int line, const char *key, const char *msg_part)
{
	struct root r;
	struct cfg_error e;
	struct warns w = {0};
	int rc = load(text, &r, &e, &w);
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

static void test_unknown_keys_warn(void)
{
	struct root r;
	struct cfg_error e;
	struct warns w = {0};
	CU_ASSERT(load("a = { count = 2;\n bogus = 1; };", &r, &e, &w) == 0);
	CU_ASSERT(w.n == 1);
	CU_ASSERT(w.line == 2);
	CU_ASSERT_STRING_EQUAL(w.key, "a.bogus");
	CU_ASSERT(r.a.count == 2);

	memset(&w, 0, sizeof(w));
	CU_ASSERT(load("zzz = 1;\na = { ports = ( { path = \"p\";\n speed = 3; } ); deep = { x = 1; }; };",
		       &r, &e, &w) == 0);
	CU_ASSERT(w.n == 3);
}

static void test_missing_file(void)
{
	struct root r;
	struct cfg_error e;
	int rc = cfg_load_file(&schema, &r, "/nonexistent/sb.conf", NULL, NULL, &e);
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
	CU_ASSERT(cfg_load_file(&schema, &r, path, NULL, NULL, &e) == -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.file, path);
	CU_ASSERT(e.line == 4);
	CU_ASSERT_STRING_EQUAL(e.key, "a.volts");
	unlink(path);
}

/* Whatever cfg_dump writes must load back to the same values. */
static void test_dump_roundtrip(void)
{
	struct root r1, r2;
	struct cfg_error e;
	struct warns w = {0};
	const char *text = "a = { count = 9; name = \"q\\\"uote\"; addrs = [3, 4];\n"
			   "  names = [\"n1\"]; deep = { nested = 0.125; };\n"
			   "  ports = ( { path = \"/dev/a\"; baud = 19200; } ); };";
	CU_ASSERT_FATAL(load(text, &r1, &e, &w) == 0);
	for (int docs = 0; docs < 2; docs++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		cfg_dump(&schema, &r1, f, docs != 0);
		fclose(f);
		memset(&w, 0, sizeof(w));
		int rc = load(buf, &r2, &e, &w);
		if (rc)
			fprintf(stderr, "\n%s\n-> %s:%d %s %s\n", buf, e.file, e.line, e.key, e.msg);
		CU_ASSERT(rc == 0);
		CU_ASSERT(w.n == 0);
		CU_ASSERT(r2.a.count == 9);
		CU_ASSERT_STRING_EQUAL(r2.a.name, "q\"uote");
		CU_ASSERT(r2.a.addrs.n == 2 && r2.a.addrs.v[1] == 4);
		CU_ASSERT_DOUBLE_EQUAL(r2.a.nested, 0.125, 1e-12);
		CU_ASSERT(r2.a.nports == 1 && r2.a.ports[0].baud == 19200);
		CU_ASSERT(r2.a.table.n == 3);
		free(buf);
	}
	CU_ASSERT(cfg_key_count(&schema) == 12);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"defaults", test_defaults},
		{"values", test_values},
		{"errors_name_file_line_key", test_errors},
		{"unknown_keys_warn", test_unknown_keys_warn},
		{"missing_file", test_missing_file},
		{"file_line", test_file_line},
		{"dump_roundtrip", test_dump_roundtrip},
		{NULL, NULL},
	};
	return sb_add_suite("config", tests);
}
