/* SPDX-License-Identifier: MIT */
/* Shared CUnit runner: each test file defines sb_register_tests() and gets main(). */
#ifndef SB_CUNIT_MAIN_H
#define SB_CUNIT_MAIN_H

#include <CUnit/CUnit.h>

/* Add suites to the registry; return 0 on success. */
int sb_register_tests(void);

/* Helper: add a suite with an array of {name, fn}, NULL-terminated. */
struct sb_test {
	const char *name;
	CU_TestFunc fn;
};
int sb_add_suite(const char *name, const struct sb_test *tests);
/* The same with CUnit's suite set-up and clean-up functions (either may be NULL). */
int sb_add_suite_fixture(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean,
			 const struct sb_test *tests);

#endif
