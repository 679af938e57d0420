/*
 * failalloc.h - allocation-failure injection for test binaries linked with
 * the GNU linker's --wrap for malloc, calloc, realloc, strdup, strndup,
 * asprintf, vasprintf and free (see test_failalloc in tests/CMakeLists.txt).
 *
 * Every reference to those functions from an object linked into the binary
 * (the test itself and the static host libraries) goes to the __wrap_
 * versions below. Disarmed, they only pass through. Armed with n, they count
 * allocations and make exactly the nth one fail (NULL, or -1 for the
 * asprintf family), the way a real allocator does when memory runs out;
 * every other one succeeds. Allocations made inside shared libraries
 * (libc, libyaml, yajl, librdkafka, plugins loaded with dlopen) are not
 * seen.
 */
#ifndef RV_FAILALLOC_H
#define RV_FAILALLOC_H

#include <stdarg.h>
#include <stddef.h>

/* Counts allocations from now on and fails the nth (1-based); n = 0 only
 * counts. Resets the counters. */
void failalloc_arm(long n);
/* Stops counting and failing. */
void failalloc_disarm(void);
/* Allocations counted since the last arm. */
long failalloc_count(void);
/* 1 when the armed allocation was reached and failed. */
int failalloc_fired(void);
/* Blocks allocated through the wrappers while armed and not freed since
 * (their total size in *bytes when bytes is not NULL): after the code under
 * test has released everything it returned, these are leaks. Frees are
 * tracked armed or not. */
long failalloc_live_blocks(size_t *bytes);

/* The wrappers and what they wrap (the linker provides __real_*). */
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **strp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int __wrap_vasprintf(char **strp, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);

#endif
