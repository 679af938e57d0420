/*
 * colocate.c - the preferred model's path on one CPU while it is idle
 * most of the time (colocate.h says why).
 */
#include "colocate.h"

#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "model.h"
#include "threads.h"
#include "worker.h"

void rv_colocate_init(rv_colocate *c, rv_stats *stats)
{
    *c = (rv_colocate){.cpu = -1, .main_tid = gettid(), .stats = stats};
    CPU_ZERO(&c->all);
    if (sched_getaffinity(0, sizeof c->all, &c->all) != 0)
        CPU_ZERO(&c->all);
}

int rv_colocate_rule(int kept, double busy)
{
    return kept ? busy <= RV_COLOCATE_LET_GO_ABOVE : busy < RV_COLOCATE_KEEP_BELOW;
}

/* The preferred model's workers, when it has threads of its own here. */
static rv_workers *path_workers(const rv_generation *g)
{
    if (!g || g->n_schedule == 0)
        return NULL;
    rv_model *m = g->models[g->schedule[0]];
    return m->is_remote ? NULL : m->workers;
}

/* What the path has asked of a CPU so far (ran and waited to run): kept on
 * a CPU others use too, its CPU time would stop growing with its load. */
static unsigned long long path_demand_ns(const rv_colocate *c, const rv_generation *g)
{
    rv_workers *ws = path_workers(g);
    return rv_threads_demand_ns(getpid(), c->main_tid) + (ws ? rv_workers_demand_ns(ws) : 0);
}

/* A window starts now, from what the path has asked so far. */
static void new_window(rv_colocate *c, const rv_generation *g, int64_t now_us)
{
    c->window_us = now_us;
    c->window_ns = path_demand_ns(c, g);
}

static void keep(rv_colocate *c, const rv_generation *g)
{
    rv_workers *ws = path_workers(g);
    int cpu = sched_getcpu();
    if (!ws || cpu < 0 || !CPU_ISSET(cpu, &c->all))
        return;
    int failed = rv_threads_pin(c->main_tid, cpu);
    if (!failed)
        failed = rv_workers_set_cpu(ws, cpu, &c->all);
    c->cpu = cpu; /* what was kept is let go by the same walk, failed or not */
    if (failed)
        rv_colocate_release(c, g);
    else
        atomic_store(&c->stats->path_kept, 1);
}

static void let_go(rv_colocate *c, const rv_generation *g)
{
    if (c->cpu < 0)
        return;
    rv_workers *ws = path_workers(g);
    if (ws)
        rv_workers_set_cpu(ws, -1, &c->all);
    rv_threads_unpin(getpid(), c->cpu, &c->all);
    c->cpu = -1;
    atomic_store(&c->stats->path_kept, 0);
}

void rv_colocate_tick(rv_colocate *c, const rv_generation *g, int64_t now_us, int hold)
{
    if (!c->on || now_us - c->window_us < RV_COLOCATE_WINDOW_US)
        return;
    if (hold)
        let_go(c, g);
    /* one reading: this window's end is the next one's start */
    unsigned long long ns = path_demand_ns(c, g);
    int64_t took_us = now_us - c->window_us;
    if (!hold && ns >= c->window_ns) { /* less: a model process restarted (not a measure) */
        double busy = (double)(ns - c->window_ns) / 1e3 / (double)took_us;
        int kept = c->cpu >= 0;
        atomic_store(&c->stats->path_share_permille, (unsigned)(1000 * busy + 0.5));
        if (rv_colocate_rule(kept, busy) != kept) {
            if (kept)
                let_go(c, g);
            else
                keep(c, g);
            rv_debug("serve", "the preferred model's path (%.0f %% of a CPU) %s", 100 * busy,
                     c->cpu >= 0 ? "kept on one CPU" : "runs on every CPU");
        }
    }
    c->window_us = now_us;
    c->window_ns = ns;
}

void rv_colocate_release(rv_colocate *c, const rv_generation *g)
{
    let_go(c, g);
    new_window(c, g, rv_mono_us());
}

void rv_colocate_follow(rv_colocate *c, const rv_generation *old, const rv_generation *g)
{
    c->on = g->cfg->rendezvous.colocate && CPU_COUNT(&c->all) > 1;
    if (c->cpu >= 0) {
        let_go(c, old);
        if (c->on)
            keep(c, g);
    }
    new_window(c, g, rv_mono_us());
}
