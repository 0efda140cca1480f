/* stub, being written */
#include "cli.h"
#include "error.h"
int jv_cmd_migrate(int argc, char **argv) { return JV_EXIT_INTERNAL; }
int jv_cmd_enqueue(int argc, char **argv) { return JV_EXIT_INTERNAL; }
int jv_cmd_status(int argc, char **argv) { return JV_EXIT_INTERNAL; }
