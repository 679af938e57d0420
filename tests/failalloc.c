/*
 * failalloc.c - the allocation wrappers of failalloc.h. strdup, strndup and
 * the asprintf family are implemented here on top of the wrapped malloc, so
 * each counts as one allocation and fails like one. Nothing here may call
 * a wrapped function other than through __wrap_malloc / __real_*.
 *
 * Blocks allocated while armed are kept in a fixed open-addressing table
 * (pointer -> size) until freed, so that a test can count what a failure
 * path left behind, with or without a leak sanitizer.
 */
#include "failalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static atomic_int armed;
static atomic_long fail_at; /* 0: count only */
static atomic_long counted;
static atomic_int fired;

#define TRACK_CAP (1u << 16) /* power of two */
#define TOMBSTONE ((uintptr_t)1)
/* Blocks are kept as p ^ HIDE, not as pointers: a leak sanitizer scanning
 * this table must not take a leaked block for one still referenced. */
#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5aull)

typedef struct tracked_block {
    uintptr_t key; /* 0: empty, TOMBSTONE: freed, else p ^ HIDE */
    size_t size;
} tracked_block;

static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static tracked_block table[TRACK_CAP];
static atomic_long n_tracked;
static long n_dropped; /* table full: not tracked (reported as live) */

static size_t slot_of(uintptr_t key)
{
    uintptr_t h = key;
    h ^= h >> 17;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (TRACK_CAP - 1);
}

static void track(void *p, size_t size)
{
    uintptr_t key = (uintptr_t)p ^ HIDE;
    pthread_mutex_lock(&track_lock);
    size_t i = slot_of(key);
    for (size_t k = 0; k < TRACK_CAP; k++, i = (i + 1) & (TRACK_CAP - 1))
        if (!table[i].key || table[i].key == TOMBSTONE) {
            table[i] = (tracked_block){key, size};
            atomic_fetch_add(&n_tracked, 1);
            pthread_mutex_unlock(&track_lock);
            return;
        }
    n_dropped++;
    pthread_mutex_unlock(&track_lock);
}

/* 1 when p was tracked (and is no more). */
static int untrack(void *p)
{
    if (!p || atomic_load(&n_tracked) == 0)
        return 0;
    int found = 0;
    uintptr_t key = (uintptr_t)p ^ HIDE;
    pthread_mutex_lock(&track_lock);
    size_t i = slot_of(key);
    for (size_t k = 0; k < TRACK_CAP && table[i].key; k++, i = (i + 1) & (TRACK_CAP - 1))
        if (table[i].key == key) {
            table[i].key = TOMBSTONE;
            atomic_fetch_sub(&n_tracked, 1);
            found = 1;
            break;
        }
    pthread_mutex_unlock(&track_lock);
    return found;
}

void failalloc_arm(long n)
{
    pthread_mutex_lock(&track_lock);
    memset(table, 0, sizeof table);
    atomic_store(&n_tracked, 0);
    n_dropped = 0;
    pthread_mutex_unlock(&track_lock);
    atomic_store(&counted, 0);
    atomic_store(&fired, 0);
    atomic_store(&fail_at, n);
    atomic_store(&armed, 1);
}

void failalloc_disarm(void)
{
    atomic_store(&armed, 0);
}

long failalloc_count(void)
{
    return atomic_load(&counted);
}

int failalloc_fired(void)
{
    return atomic_load(&fired);
}

long failalloc_live_blocks(size_t *bytes)
{
    size_t total = 0;
    long n = 0;
    pthread_mutex_lock(&track_lock);
    for (size_t i = 0; i < TRACK_CAP; i++)
        if (table[i].key && table[i].key != TOMBSTONE) {
            n++;
            total += table[i].size;
        }
    n += n_dropped;
    pthread_mutex_unlock(&track_lock);
    if (bytes)
        *bytes = total;
    return n;
}

/* 1 when this allocation must fail. */
static int should_fail(void)
{
    if (!atomic_load(&armed))
        return 0;
    long k = atomic_fetch_add(&counted, 1) + 1;
    long n = atomic_load(&fail_at);
    if (n > 0 && k == n) {
        atomic_store(&fired, 1);
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    void *p = __real_malloc(size);
    if (p && atomic_load(&armed))
        track(p, size);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = __real_calloc(n, size);
    if (p && atomic_load(&armed))
        track(p, n * size);
    return p;
}

void *__wrap_realloc(void *p, size_t size)
{
    /* a failed realloc leaves p allocated, as the real one does */
    if (should_fail())
        return NULL;
    void *q = __real_realloc(p, size);
    if (!q) {
        if (size == 0) /* glibc freed p */
            untrack(p);
        return NULL;
    }
    int was = untrack(p);
    if (was || atomic_load(&armed))
        track(q, size);
    return q;
}

void __wrap_free(void *p)
{
    untrack(p);
    __real_free(p);
}

char *__wrap_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = __wrap_malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

char *__wrap_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = __wrap_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

int __wrap_vasprintf(char **strp, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int len = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (len < 0)
        return -1;
    char *buf = __wrap_malloc((size_t)len + 1);
    if (!buf)
        return -1;
    vsnprintf(buf, (size_t)len + 1, fmt, ap);
    *strp = buf;
    return len;
}

int __wrap_asprintf(char **strp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = __wrap_vasprintf(strp, fmt, ap);
    va_end(ap);
    return r;
}
