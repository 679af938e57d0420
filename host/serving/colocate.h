/*
 * colocate.h - at low load, the preferred model's path on one CPU.
 *
 * A request's way to its first answer crosses threads: the input thread
 * hands the batch to the preferred model's worker or model process, and a
 * model process's answer wakes its worker. A hand-off to a thread whose
 * CPU is idle waits for that CPU to wake up (20-25 us on a virtual machine
 * without halt polling, as long or longer from a deep C-state); on the CPU
 * the hand-off comes from, it is a switch of a few us. So while that path
 * uses little CPU, the host keeps it on one CPU: the input thread, the
 * preferred model's workers and the first thread of each of its model
 * processes, on the CPU the input thread is on. It lets go when the path
 * gets busy, before a reload builds (what the builder starts runs
 * anywhere) and never keeps it with one CPU or rendezvous.colocate off.
 *
 * Everything here is the input (main) thread's.
 */
#ifndef RV_COLOCATE_H
#define RV_COLOCATE_H

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "generation.h"
#include "stats.h"

/* The path's demand (the time its threads ran or waited to run) as a
 * share of one CPU, measured over this long, below which it is kept on one
 * CPU and above which it is let go again. */
#define RV_COLOCATE_WINDOW_US 200000
#define RV_COLOCATE_KEEP_BELOW 0.40
#define RV_COLOCATE_LET_GO_ABOVE 0.70

typedef struct rv_colocate {
    cpu_set_t all;   /* the host's CPUs when it started */
    int on;          /* rendezvous.colocate, and more than one CPU */
    int cpu;         /* the path's CPU while kept; -1: not kept */
    pid_t main_tid;  /* the input thread */
    rv_stats *stats; /* where /metrics sees it */
    int64_t window_us;
    unsigned long long window_ns; /* the path's demand at the window's start */
} rv_colocate;

/* On the input thread, before any thread is kept anywhere. Off until a
 * generation goes into service (rv_colocate_follow). */
void rv_colocate_init(rv_colocate *c, rv_stats *stats);

/* Whether a path that used `busy` of one CPU over a window is kept (1) or
 * let go (0), `kept` telling how it was: the rule, with its hysteresis. */
int rv_colocate_rule(int kept, double busy);

/* Once per loop of the input thread: at the end of each window, measures
 * what g's path used and keeps it on one CPU or lets it go; never keeps it
 * while `hold` (a reload builds). */
void rv_colocate_tick(rv_colocate *c, const rv_generation *g, int64_t now_us, int hold);

/* Lets g's path go now, and starts a new window. */
void rv_colocate_release(rv_colocate *c, const rv_generation *g);

/* g went into service after old (NULL at the start): a kept path moves to
 * g's preferred model; g's config says whether to keep it at all. */
void rv_colocate_follow(rv_colocate *c, const rv_generation *old, const rv_generation *g);

#endif
