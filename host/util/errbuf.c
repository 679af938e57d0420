/* errbuf.c - intended truncation of error messages, in one place. */
#include "errbuf.h"

#include <stdio.h>

char *rv_verrf(char *err, size_t err_size, const char *fmt, va_list ap)
{
    if (!err || err_size == 0)
        return err;
    vsnprintf(err, err_size, fmt, ap);
    return err;
}

char *rv_errf(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rv_verrf(err, err_size, fmt, ap);
    va_end(ap);
    return err;
}
