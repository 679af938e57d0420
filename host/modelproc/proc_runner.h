/*
 * proc_runner.h - the model-runner role: `rendezvous model-runner --parent PID`,
 * started by the host (proc.h) with its channel on fds 3 (memfd), 4
 * (wake-ups from the host) and 5 (wake-ups to the host). It dies with its
 * host, limits itself, loads the plugin's private copy, creates and warms
 * one instance, sandboxes itself and then scores the batches the host
 * sends until the host stops it. Not a command for people.
 */
#ifndef RV_PROC_RUNNER_H
#define RV_PROC_RUNNER_H

/* The process's exit status. */
int rv_proc_runner_main(int argc, char **argv);

#endif
