/* stub, being written */
#include "cli.h"
#include "error.h"
int jv_cmd_check_config(int argc, char **argv) { return JV_EXIT_INTERNAL; }
