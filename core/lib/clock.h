/*
 * clock.h -- the two clocks: monotonic for every deadline, interval and
 * timeout (it never jumps: tests/faults/f6_clock_jump.sh), the wall clock
 * only for times shown to people or stored (an alert's time).
 */
#ifndef JV_CLOCK_H
#define JV_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t jv_now_ms(void);

/* The wall clock (CLOCK_REALTIME): Unix time in milliseconds. */
int64_t jv_unix_ms(void);

#endif
