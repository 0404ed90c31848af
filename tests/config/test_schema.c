/* SPDX-License-Identifier: MIT */
/*
 * The daemon's real schema: every default is valid, and the shipped example
 * config and docs/CONFIG.md are exactly what the table generates, so the
 * three can never drift apart. Regenerate with scripts/gen-config-docs.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/schema.h"
#include "tests/support/cunit_main.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			char *n = realloc(buf, cap);
			if (!n) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = n;
		}
		size_t r = fread(buf + len, 1, 4096, f);
		len += r;
		if (r == 0)
			break;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static char *source_path(const char *rel)
{
	const char *dir = getenv("SB_SOURCE_DIR");
	char *p = malloc(1024);
	snprintf(p, 1024, "%s/%s", dir ? dir : ".", rel);
	return p;
}

static void test_defaults_valid(void)
{
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error e;
	int r = sb_config_load(NULL, c, &e);
	if (r)
		fprintf(stderr, "\n%s:%d %s %s\n", e.file, e.line, e.key, e.msg);
	CU_ASSERT(r == 0);
	free(c);
}

static void test_example_config_generated(void)
{
	struct sb_config *c = calloc(1, sizeof(*c));
	struct cfg_error e;
	CU_ASSERT_FATAL(sb_config_load(NULL, c, &e) == 0);
	char *gen = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&gen, &len);
	cfg_dump(&sb_config_schema, c, f, true);
	fclose(f);
	char *path = source_path("serialbattery.conf");
	char *file = slurp(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(file);
	/* the file may start with a header comment; the generated text must follow it */
	const char *body = strstr(file, gen);
	if (!body)
		fprintf(stderr,
			"\nserialbattery.conf is out of date: run scripts/gen-config-docs.sh\n");
	CU_ASSERT(body != NULL);
	/* and it loads with the real loader */
	CU_ASSERT(sb_config_load(path, c, &e) == 0);
	free(file);
	free(path);
	free(gen);
	free(c);
}

static void test_config_md_generated(void)
{
	char *gen = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&gen, &len);
	cfg_markdown(&sb_config_schema, f);
	fclose(f);
	char *path = source_path("docs/CONFIG.md");
	char *file = slurp(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(file);
	if (!strstr(file, gen))
		fprintf(stderr,
			"\ndocs/CONFIG.md is out of date: run scripts/gen-config-docs.sh\n");
	CU_ASSERT(strstr(file, gen) != NULL);
	free(file);
	free(path);
	free(gen);
}

/* Load text as the file path through the daemon's loader; returns its result. */
static int load_file(const char *text, struct cfg_error *e, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "/tmp/sb-test-schema-XXXXXX");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	struct sb_config *c = calloc(1, sizeof(*c));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	int r = sb_config_load(path, c, e);
	free(c);
	unlink(path);
	return r;
}

static void expect(const char *text, int line, const char *key, const char *msg)
{
	char path[64];
	struct cfg_error e;
	int r = load_file(text, &e, path, sizeof(path));
	CU_ASSERT(r == -EINVAL);
	if (r != -EINVAL)
		return;
	CU_ASSERT_STRING_EQUAL(e.file, path);
	CU_ASSERT_EQUAL(e.line, line);
	CU_ASSERT_STRING_EQUAL(e.key, key);
	if (!strstr(e.msg, msg))
		fprintf(stderr, "\n'%s' lacks '%s'\n", e.msg, msg);
	CU_ASSERT(strstr(e.msg, msg) != NULL);
}

/* The case: a misspelt current limit must not leave the 50 A default
 * in force. */
static void test_misspelt_key_refused(void)
{
	expect("charge = {\n  max_cell_voltage = 3.45;\n  max_charge_curent = 10.0;\n};\n", 3,
	       "charge.max_charge_curent", "unknown, did you mean 'max_charge_current'?");
	expect("daemon = {\n  log_levle = \"debug\";\n};\n", 2, "daemon.log_levle",
	       "unknown, did you mean 'log_level'?");
	expect("serial = {\n  ports = ( { path = \"/dev/ttyUSB0\";\n    adresses = [1, 2]; } "
	       ");\n};\n",
	       3, "serial.ports[0].adresses", "unknown, did you mean 'addresses'?");
	expect("chrage = {\n  max_charge_current = 10.0;\n};\n", 1, "chrage",
	       "unknown, did you mean 'charge'?");
}

static void test_integers_not_wrapped(void)
{
	/* 4294967297 reads as 1 and 4294967306 as 10 through libconfig's 32 bits */
	expect("daemon = {\n  max_batteries = 4294967297;\n};\n", 2, "daemon.max_batteries",
	       "value 4294967297 out of range [1, 64]");
	expect("serial = {\n  redetect_after = 4294967306;\n};\n", 2, "serial.redetect_after",
	       "value 4294967306 out of range");
	expect("serial = {\n  retries = 99999999999;\n};\n", 2, "serial.retries",
	       "value 99999999999 out of range [0, 10]");
	expect("serial = {\n  ports = ( { path = \"/dev/ttyUSB0\";\n    addresses = [1,\n      "
	       "4294967298]; } );\n};\n",
	       4, "serial.ports[0].addresses[1]", "value 4294967298 out of range [0, 255]");
	expect("serial = {\n  ports = ( { path = \"/dev/ttyUSB0\";\n    baud = "
	       "99999999999999999999; "
	       "} );\n};\n",
	       3, "serial.ports[0].baud", "does not fit in 64 bits");
	expect("charge = {\n  ccl_socs = [0, 50,\n    4294967396];\n};\n", 3, "charge.ccl_socs[2]",
	       "out of range");
}

/* Cross-key checks of the modules name the line of the key they are about. */
static void test_cross_key_lines(void)
{
	expect("charge = {\n  stale_after = 20.0;\n  lost_after = 15.0;\n};\n", 3,
	       "charge.lost_after", "must not be below stale_after");
	expect("charge = {\n  ccl_socs = [0.0, 50.0, 100.0];\n  ccl_soc_fractions = [0.5, "
	       "1.0];\n};\n",
	       3, "charge.ccl_soc_fractions", "must have as many values as the breakpoints");
	expect("serial = {\n  ports = (\n    { path = \"/dev/ttyUSB0\"; },\n    { path = "
	       "\"/dev/ttyUSB1\";\n"
	       "      bms = \"nosuch\"; }\n  );\n};\n",
	       5, "serial.ports[1].bms", "unknown driver 'nosuch'");
	expect("udev = {\n  exclude = [\"1a86:7523\",\n    \"bogus\"];\n};\n", 3, "udev.exclude[1]",
	       "rule \"bogus\"");
	/* across sections: one external current/SOC source a daemon */
	expect("charge = {\n  soc = (\n    { pack = \"ttyUSB0\"; soc_source = "
	       "\"service:com.victronenergy.battery.shunt1\"; },\n    { pack = \"ttyUSB1\";\n"
	       "      soc_source = \"service:com.victronenergy.battery.shunt2\"; }\n  );\n};\n",
	       5, "charge.soc[1].soc_source", "names another service than charge.soc[0]");
	expect("charge = {\n  soc = ( { pack = \"ttyUSB0\"; soc_source = "
	       "\"service:com.victronenergy.battery.shunt1\"; } );\n};\npublish = {\n"
	       "  external_source = \"com.victronenergy.battery.ttyS5\";\n};\n",
	       5, "publish.external_source", "one external source a daemon");
	/* the same service twice is one source */
	{
		char path[64];
		struct cfg_error e;
		CU_ASSERT(load_file("charge = {\n  soc = ( { pack = \"ttyUSB0\"; soc_source = "
				    "\"service:com.victronenergy.battery.ttyS5\"; } );\n};\n"
				    "publish = {\n  external_source = "
				    "\"com.victronenergy.battery.ttyS5\";\n};\n",
				    &e, path, sizeof(path)) == 0);
	}
	/* the key the check names keeps its default: the section's line, said so */
	expect("\ncharge = {\n  stale_after = 100.0;\n};\n", 2, "charge.lost_after",
	       "must not be below stale_after (lost_after is not set here: its default applies)");
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"defaults_valid", test_defaults_valid},
		{"example_config_generated", test_example_config_generated},
		{"config_md_generated", test_config_md_generated},
		{"misspelt_key_refused", test_misspelt_key_refused},
		{"integers_not_wrapped", test_integers_not_wrapped},
		{"cross_key_errors_name_the_line", test_cross_key_lines},
		{NULL, NULL},
	};
	return sb_add_suite("schema", tests);
}
