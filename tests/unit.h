/*
 * unit.h -- a few lines shared by the CUnit test programs.
 *
 * Each test program defines its suites and returns jv_unit_run(), which runs
 * them with the basic interface (its summary is what CI reads) and exits
 * non-zero on any failure.
 */
#ifndef JV_UNIT_H
#define JV_UNIT_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

struct jv_unit_test {
	const char *name;
	void (*fn)(void);
};

static inline int jv_unit_run(const char *suite, const struct jv_unit_test *tests)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);
	if (!s)
		return 2;
	for (const struct jv_unit_test *t = tests; t->name; t++)
		if (!CU_add_test(s, t->name, t->fn))
			return 2;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	unsigned ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (ran == 0) {
		fprintf(stderr, "%s: no test ran\n", suite);
		return 1;
	}
	return failed ? 1 : 0;
}

#endif
