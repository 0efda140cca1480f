/*
 * serve.h -- the supervisor itself: load the config at config_path, register
 * as a processor, start the workers, the API, the alerter and the
 * scheduler, and run the loop until SIGTERM or SIGINT (SIGHUP reloads).
 * Returns the process's exit code (JV_EXIT_*): JV_EXIT_USER when the config,
 * the database or the account is not usable, 2 when it had to stop itself
 * (fenced with a job that would not stop). config_path must outlive the
 * call. `jobvisor serve` (cli/serve.c) is its only caller.
 */
#ifndef JV_SERVE_H
#define JV_SERVE_H

int jv_serve(const char *config_path);

#endif
