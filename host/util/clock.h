/*
 * clock.h - the host's clocks, in one place. Deadlines, latencies and
 * timeouts use the monotonic clock (never jumps); only records and logs that
 * a person reads carry wall-clock time.
 */
#ifndef RV_CLOCK_H
#define RV_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t rv_clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Microseconds and milliseconds on CLOCK_MONOTONIC. */
static inline int64_t rv_mono_us(void)
{
    return rv_clock_us(CLOCK_MONOTONIC);
}
static inline int64_t rv_mono_ms(void)
{
    return rv_clock_us(CLOCK_MONOTONIC) / 1000;
}

/* Microseconds since the epoch (CLOCK_REALTIME). */
static inline int64_t rv_real_us(void)
{
    return rv_clock_us(CLOCK_REALTIME);
}

/* An absolute CLOCK_MONOTONIC time `us` microseconds from the epoch of that
 * clock, for pthread_cond_timedwait on a monotonic condition variable. */
static inline struct timespec rv_timespec_us(int64_t us)
{
    return (struct timespec){us / 1000000, (us % 1000000) * 1000};
}

/* Sleeps for ms milliseconds (EINTR cuts it short, which callers accept). */
static inline void rv_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
