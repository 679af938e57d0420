/*
 * threads.c - a process's threads, walked through /proc/PID/task.
 */
#include "threads.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

/* fn(tid, arg) for every thread of pid: 0, or the first errno but ESRCH. */
static int each_task(pid_t pid, int (*fn)(pid_t tid, void *arg), void *arg)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return errno;
    int first = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int tid = atoi(e->d_name);
        int failed = tid > 0 ? fn((pid_t)tid, arg) : 0;
        if (failed && failed != ESRCH && !first)
            first = failed;
    }
    closedir(d);
    return first;
}

int rv_threads_nice(pid_t tid, int nice)
{
    return setpriority(PRIO_PROCESS, (id_t)tid, nice) != 0 ? errno : 0;
}

static int renice_one(pid_t tid, void *arg)
{
    return rv_threads_nice(tid, *(int *)arg);
}

int rv_threads_renice(pid_t pid, int nice)
{
    return each_task(pid, renice_one, &nice);
}

int rv_threads_pin(pid_t tid, int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(tid, sizeof one, &one) != 0 ? errno : 0;
}

typedef struct unpin_args {
    int cpu;
    const cpu_set_t *all;
} unpin_args;

static int unpin_one(pid_t tid, void *arg)
{
    const unpin_args *a = arg;
    cpu_set_t now;
    if (sched_getaffinity(tid, sizeof now, &now) != 0)
        return errno;
    if (CPU_COUNT(&now) != 1 || !CPU_ISSET(a->cpu, &now))
        return 0; /* not one of ours: left as it is */
    return sched_setaffinity(tid, sizeof *a->all, a->all) != 0 ? errno : 0;
}

int rv_threads_unpin(pid_t pid, int cpu, const cpu_set_t *all)
{
    unpin_args a = {cpu, all};
    return each_task(pid, unpin_one, &a);
}

unsigned long long rv_threads_demand_ns(pid_t pid, pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    unsigned long long run = 0, wait = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &run, &wait) != 2)
            run = wait = 0;
        fclose(f);
    }
    return run + wait;
}
