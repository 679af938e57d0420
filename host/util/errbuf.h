/*
 * errbuf.h - the one size of an error message buffer, and the one way to
 * fill one.
 *
 * Errors travel as `char *err, size_t err_size` (librdkafka's errstr
 * convention). A message longer than its buffer is cut on purpose: the
 * start of a message says what failed, and a cut message is better than
 * none. rv_errf() is that intended truncation, said once, so that the
 * compiler's format-truncation warning stays on everywhere else.
 */
#ifndef RV_ERRBUF_H
#define RV_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Room for one error message: a file:line, a key path and a reason. */
#define RV_ERR_SIZE 1024

/* Writes the message into err (cut to err_size - 1 bytes, always
 * terminated). Returns err, for use in expressions. */
char *rv_errf(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *rv_verrf(char *err, size_t err_size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
