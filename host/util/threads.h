/*
 * threads.h - the threads of a process (/proc/PID/task): their nice value
 * and the CPUs they may run on. A thread that ends while it is being set
 * is not a failure.
 */
#ifndef RV_THREADS_H
#define RV_THREADS_H

#include <sched.h>
#include <sys/types.h>

/* Sets the nice value of thread tid: 0 or errno. */
int rv_threads_nice(pid_t tid, int nice);

/* Sets the nice value of every thread of process pid (a plugin's own
 * threads too): 0, or the errno of the first that failed (EACCES: lowering
 * a nice value needs CAP_SYS_NICE or a raised RLIMIT_NICE). */
int rv_threads_renice(pid_t pid, int nice);

/* Thread tid (a pid for a process's first thread) runs on CPU cpu alone
 * from now; a thread it starts inherits that. 0 or errno. */
int rv_threads_pin(pid_t tid, int cpu);

/* Every thread of process pid that may run on CPU cpu alone may run on
 * every CPU of `all` again: the threads pinned there and those they
 * started meanwhile. 0, or the errno of the first that failed. */
int rv_threads_unpin(pid_t pid, int cpu, const cpu_set_t *all);

/* What thread tid of process pid has asked of a CPU so far: the time it
 * ran and the time it waited to run (/proc/.../schedstat), in ns; 0 when
 * it is gone. Unlike the CPU time, it keeps growing with the thread's load
 * when the thread is kept on a CPU that others use too. */
unsigned long long rv_threads_demand_ns(pid_t pid, pid_t tid);

#endif
