/* hostport.c - HOST:PORT into a socket address, numeric only (no DNS). */
#include "hostport.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

#define EXAMPLES                                                                                   \
    "expected HOST:PORT with an IPv4 address, [IPv6] or localhost "                                \
    "(e.g. 127.0.0.1:8080 or [::1]:8080)"

int rv_hostport_parse(const char *given, struct sockaddr_storage *out, socklen_t *out_len,
                      char *err, size_t err_size)
{
    const char *s = given;
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) {
        rv_errf(err, err_size, "%s, got '%s'", EXAMPLES, given);
        return -1;
    }
    const char *port_s = colon + 1;
    size_t digits = strspn(port_s, "0123456789");
    long port = digits > 0 && digits <= 5 && !port_s[digits] ? strtol(port_s, NULL, 10) : -1;
    if (port < 1 || port > 65535) {
        rv_errf(err, err_size, "port of '%s' must be 1 to 65535", given);
        return -1;
    }
    char host[64];
    size_t hlen = (size_t)(colon - s);
    int v6 = s[0] == '[';
    if (v6) {
        if (hlen < 3 || s[hlen - 1] != ']') {
            rv_errf(err, err_size, "%s, got '%s'", EXAMPLES, given);
            return -1;
        }
        s++;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        rv_errf(err, err_size, "%s, got '%s'", EXAMPLES, given);
        return -1;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    memset(out, 0, sizeof *out);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            rv_errf(err, err_size, "'%s' is not an IPv6 address", host);
            return -1;
        }
        *out_len = sizeof *a;
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
        rv_errf(err, err_size, "%s, got '%s'", EXAMPLES, given);
        return -1;
    }
    *out_len = sizeof *a;
    return 0;
}
