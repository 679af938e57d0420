/*
 * proc_spawn.h - starts the runner binary (`rendezvous model-runner`) for a
 * model process, from the one thread that spawns them all, and reaps it
 * with the reason it ended.
 */
#ifndef RV_PROC_SPAWN_H
#define RV_PROC_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The runner binary: /proc/self/exe unless set (test programs set the
 * rendezvous binary). Call before any process starts. */
void rv_proc_spawn_set_runner(const char *path);

/* Starts `runner model-runner --parent PID --model M --instance I` with
 * fds (memfd, to_proc, to_host) as its 3, 4 and 5 and nothing else open
 * but /dev/null on 0, in its own process group, default signal
 * dispositions. Its memory bound (max_memory_mb) and sandbox choose the
 * sanitizer's options in a sanitized build. The pid, or -1 with err. */
pid_t rv_proc_spawn_runner(const int fds[3], const char *model, uint32_t instance,
                           uint32_t max_memory_mb, int sandbox, char *err, size_t err_size);

/* ---- reaping ---- */

/* Why a process ended (rendezvous_model_restarts_total's reason): the
 * number of the signal that killed it (1..64), or one of these. */
#define RV_PROC_EXIT_STATUS 65   /* it exited */
#define RV_PROC_EXIT_DEADLINE 66 /* killed at max_score_ms */
#define RV_PROC_EXIT_START 67    /* a restart failed (create, warm, labels) */
#define RV_PROC_EXIT_KINDS 68
/* "SIGSEGV", "exit", "max_score_ms", "start" */
const char *rv_proc_exit_kind_name(int kind);

/* Waits for the process of pidfd to end and reaps it: the reason in words
 * ("died: signal 11 (SIGSEGV)", "exited with status 3") and its kind. */
int rv_proc_spawn_reap(int pidfd, char *out, size_t size);

#endif
