/*
 * hostport.h - the one HOST:PORT rule, for the config check and for the
 * listener: an IPv4 literal, an IPv6 literal in brackets ([::1]:8080), or
 * localhost; a port from 1 to 65535.
 */
#ifndef RV_HOSTPORT_H
#define RV_HOSTPORT_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parses s into *out (*out_len set to the address's size). 0, or -1 with
 * the reason in err. */
int rv_hostport_parse(const char *s, struct sockaddr_storage *out, socklen_t *out_len, char *err,
                      size_t err_size);

#endif
