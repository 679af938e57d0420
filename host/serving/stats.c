/* stats.c - counters and log-linear latency histograms. */
#include "stats.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

rv_model_stats *rv_stats_model(rv_stats *s, const char *name)
{
    int n = atomic_load(&s->n_models);
    for (int i = 0; i < n; i++)
        if (strcmp(s->models[i].name, name) == 0)
            return &s->models[i];
    pthread_mutex_lock(&add_lock);
    n = atomic_load(&s->n_models);
    rv_model_stats *m = NULL;
    for (int i = 0; i < n && !m; i++)
        if (strcmp(s->models[i].name, name) == 0)
            m = &s->models[i];
    if (!m && n < RV_STATS_MAX_MODELS) {
        m = &s->models[n];
        snprintf(m->name, sizeof m->name, "%s", name);
        atomic_store(&s->n_models, n + 1);
    }
    pthread_mutex_unlock(&add_lock);
    return m;
}

/* The slot of a value: exact under RV_LATENCY_SUB, then RV_LATENCY_SUB
 * sub-buckets per power of two. */
static int slot_of(uint64_t v)
{
    if (v < RV_LATENCY_SUB)
        return (int)v;
    int e = 63 - __builtin_clzll(v); /* 2^e <= v, e >= 5 */
    int slot = RV_LATENCY_SUB * (e - 4) + (int)((v >> (e - 5)) - RV_LATENCY_SUB);
    return slot < RV_LATENCY_SLOTS ? slot : RV_LATENCY_SLOTS - 1;
}

/* The values of a slot: [lo, lo + width). */
static void slot_range(int slot, double *lo, double *width)
{
    if (slot < RV_LATENCY_SUB) {
        *lo = slot;
        *width = 1;
        return;
    }
    int e = slot / RV_LATENCY_SUB + 4, sub = slot % RV_LATENCY_SUB;
    *width = (double)((uint64_t)1 << (e - 5));
    *lo = (double)((uint64_t)1 << e) + sub * *width;
}

void rv_latency_add(rv_latency_hist *h, int64_t us)
{
    uint64_t v = us > 0 ? (uint64_t)us : 0;
    atomic_fetch_add_explicit(&h->slot[slot_of(v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, v, memory_order_relaxed);
}

double rv_latency_quantile(const rv_latency_hist *h, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < RV_LATENCY_SLOTS; i++)
        total += atomic_load_explicit(&h->slot[i], memory_order_relaxed);
    if (!total)
        return 0;
    /* the rank of the value (nearest-rank), counted in one pass */
    uint64_t rank = (uint64_t)(q * (double)total + 0.999999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < RV_LATENCY_SLOTS; i++) {
        seen += atomic_load_explicit(&h->slot[i], memory_order_relaxed);
        if (seen >= rank) {
            double lo, width;
            slot_range(i, &lo, &width);
            return width == 1 ? lo : lo + width / 2;
        }
    }
    return 0;
}

uint64_t rv_latency_below_pow2(const rv_latency_hist *h, int b)
{
    int end = slot_of((uint64_t)1 << b);
    uint64_t n = 0;
    for (int i = 0; i < end; i++)
        n += atomic_load_explicit(&h->slot[i], memory_order_relaxed);
    return n;
}

void rv_stats_print(rv_stats *s, FILE *out)
{
    fprintf(
        out,
        "requests %llu, dead-lettered %llu; results: preferred %llu, fallback %llu, "
        "default %llu, expired %llu, error %llu; in host p50 %.0f us, p99 %.0f us, p99.9 %.0f us; "
        "decision p50 %.0f us, p99 %.0f us\n",
        (unsigned long long)s->requests, (unsigned long long)s->dead_letters,
        (unsigned long long)s->results_by_reason[RV_REASON_PREFERRED],
        (unsigned long long)s->results_by_reason[RV_REASON_FALLBACK],
        (unsigned long long)s->results_by_reason[RV_REASON_DEFAULT],
        (unsigned long long)s->results_by_reason[RV_REASON_EXPIRED],
        (unsigned long long)s->results_error, rv_latency_quantile(&s->e2e, 0.5),
        rv_latency_quantile(&s->e2e, 0.99), rv_latency_quantile(&s->e2e, 0.999),
        rv_latency_quantile(&s->decision, 0.5), rv_latency_quantile(&s->decision, 0.99));
    if (s->txn_commits || s->txn_aborts || s->txn_restarts)
        fprintf(out,
                "  transactions: %llu committed, %llu aborted, %llu producer restart(s); "
                "committing p50 %.0f us, p99 %.0f us\n",
                (unsigned long long)s->txn_commits, (unsigned long long)s->txn_aborts,
                (unsigned long long)s->txn_restarts, rv_latency_quantile(&s->txn_commit, 0.5),
                rv_latency_quantile(&s->txn_commit, 0.99));
    fprintf(out, "  reloads: %llu ok, %llu failed; schedule changes by control: %llu\n",
            (unsigned long long)s->reloads_ok, (unsigned long long)s->reloads_failed,
            (unsigned long long)s->schedule_changes);
    int n = atomic_load(&s->n_models);
    for (int i = 0; i < n; i++) {
        rv_model_stats *m = &s->models[i];
        fprintf(out,
                "  model %s: ok %llu, error %llu, shed %llu, chosen %llu; latency p50 %.0f us, "
                "p99 %.0f us\n",
                m->name, (unsigned long long)m->by_status[1], (unsigned long long)m->by_status[2],
                (unsigned long long)m->by_status[3], (unsigned long long)m->chosen,
                rv_latency_quantile(&m->latency, 0.5), rv_latency_quantile(&m->latency, 0.99));
    }
}
