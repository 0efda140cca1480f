#include "unit.h"
static void t_stub(void) { CU_ASSERT(1); }
int main(void) { static const struct jv_unit_test tests[] = {{"stub", t_stub}, {0, 0}}; return jv_unit_run("loader", tests); }
