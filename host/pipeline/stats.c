/* stats.c - counters and power-of-two latency histograms. */
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

void rv_latency_add(rv_latency_hist *h, int64_t us)
{
    int b = 0;
    while (b < RV_LATENCY_BUCKETS - 1 && us >= (int64_t)1 << b)
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(us > 0 ? us : 0), memory_order_relaxed);
}

int64_t rv_latency_quantile(const rv_latency_hist *h, double q)
{
    uint64_t total = atomic_load(&h->count);
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    for (int b = 0; b < RV_LATENCY_BUCKETS; b++) {
        seen += atomic_load(&h->bucket[b]);
        if (seen > want)
            return (int64_t)1 << b;
    }
    return (int64_t)1 << (RV_LATENCY_BUCKETS - 1);
}

void rv_stats_print(rv_stats *s, FILE *out)
{
    fprintf(out,
            "requests %llu, dead-lettered %llu; results: preferred %llu, fallback %llu, "
            "default %llu, error %llu; end-to-end p50 <= %lld us, p99 <= %lld us\n",
            (unsigned long long)s->requests, (unsigned long long)s->dead_letters,
            (unsigned long long)s->results_by_reason[RV_REASON_PREFERRED],
            (unsigned long long)s->results_by_reason[RV_REASON_FALLBACK],
            (unsigned long long)s->results_by_reason[RV_REASON_DEFAULT],
            (unsigned long long)s->results_error, (long long)rv_latency_quantile(&s->e2e, 0.5),
            (long long)rv_latency_quantile(&s->e2e, 0.99));
    fprintf(out, "  reloads: %llu ok, %llu failed; schedule changes by control: %llu\n",
            (unsigned long long)s->reloads_ok, (unsigned long long)s->reloads_failed,
            (unsigned long long)s->schedule_changes);
    int n = atomic_load(&s->n_models);
    for (int i = 0; i < n; i++) {
        rv_model_stats *m = &s->models[i];
        fprintf(out,
                "  model %s: ok %llu, error %llu, shed %llu, chosen %llu; latency p50 <= "
                "%lld us, p99 <= %lld us\n",
                m->name, (unsigned long long)m->by_status[1], (unsigned long long)m->by_status[2],
                (unsigned long long)m->by_status[3], (unsigned long long)m->chosen,
                (long long)rv_latency_quantile(&m->latency, 0.5),
                (long long)rv_latency_quantile(&m->latency, 0.99));
    }
}
