/* SPDX-License-Identifier: MIT */
#include "cunit_main.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

int sb_add_suite(const char *name, const struct sb_test *tests)
{
	return sb_add_suite_fixture(name, NULL, NULL, tests);
}

int sb_add_suite_fixture(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean,
			 const struct sb_test *tests)
{
	CU_pSuite s = CU_add_suite(name, init, clean);
	if (!s)
		return -1;
	for (const struct sb_test *t = tests; t->name; t++)
		if (!CU_add_test(s, t->name, t->fn))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (sb_register_tests() != 0) {
		fprintf(stderr, "test registration failed: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		/* run one suite by name (and one of its tests: argv[2]) */
		CU_pSuite s = CU_get_suite(argv[1]);
		if (!s) {
			fprintf(stderr, "no suite '%s'\n", argv[1]);
			CU_cleanup_registry();
			return 2;
		}
		if (argc > 2) {
			/* and one test of it */
			CU_pTest t = CU_get_test(s, argv[2]);
			if (!t) {
				fprintf(stderr, "no test '%s' in suite '%s'\n", argv[2], argv[1]);
				CU_cleanup_registry();
				return 2;
			}
			CU_basic_run_test(s, t);
		} else {
			CU_basic_run_suite(s);
		}
	} else {
		CU_basic_run_tests();
	}
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	/* a suite whose set-up failed skipped its tests: that is a failure, not a pass */
	unsigned suites_failed = CU_get_number_of_suites_failed();
	unsigned run = CU_get_number_of_tests_run();
	unsigned registered = 0;
	if (argc <= 1)
		for (CU_pSuite s = CU_get_registry()->pSuite; s; s = s->pNext)
			registered += s->uiNumberOfTests;
	CU_cleanup_registry();
	if (run == 0) {
		fprintf(stderr, "no test ran\n");
		return 1;
	}
	if (suites_failed) {
		fprintf(stderr, "%u suite(s) failed to initialise: their tests did not run\n",
			suites_failed);
		return 1;
	}
	if (argc <= 1 && run < registered) {
		fprintf(stderr, "only %u of %u tests ran\n", run, registered);
		return 1;
	}
	return failed ? 1 : 0;
}
