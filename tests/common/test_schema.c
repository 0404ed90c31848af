/* SPDX-License-Identifier: MIT */
/*
 * The daemon's real schema: every default is valid, and the shipped example
 * config and docs/CONFIG.md are exactly what the table generates, so the
 * three can never drift apart. Regenerate with scripts/gen-config-docs.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/config_schema.h"
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
		fprintf(stderr, "\nserialbattery.conf is out of date: run scripts/gen-config-docs.sh\n");
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
		fprintf(stderr, "\ndocs/CONFIG.md is out of date: run scripts/gen-config-docs.sh\n");
	CU_ASSERT(strstr(file, gen) != NULL);
	free(file);
	free(path);
	free(gen);
}

int sb_register_tests(void)
{
	static const struct sb_test tests[] = {
		{"defaults_valid", test_defaults_valid},
		{"example_config_generated", test_example_config_generated},
		{"config_md_generated", test_config_md_generated},
		{NULL, NULL},
	};
	return sb_add_suite("schema", tests);
}
