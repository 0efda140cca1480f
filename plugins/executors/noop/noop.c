/* stub */
#include <jobvisor/plugin.h>
static const struct jv_plugin noop = { JV_PLUGIN_HEADER, .kind = JV_PLUGIN_EXECUTOR, .name = "noop" };
JV_PLUGIN_ENTRY(noop)
