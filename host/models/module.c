/*
 * module.c - private copy, dlopen, ABI checks, dlclose.
 *
 * Must never dlopen() the user's original file (overwriting a mapped file
 * crashes the process) and must never read descriptor members beyond the
 * ABI header before the header has been accepted.
 */
#include "module.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"
#include "digest.h"
#include "errbuf.h"
#include "plugin_open.h"

/* Writes the private copy unless a file of that content name exists; the
 * rename makes a half-written copy impossible to load. */
static int write_private_copy(const char *dest, const char *data, size_t len, char *err,
                              size_t err_size)
{
    if (access(dest, R_OK) == 0)
        return 0;
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dest, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        rv_errf(err, err_size, "path too long: %s", dest);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0555);
    if (fd < 0) {
        rv_errf(err, err_size, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t put = 0;
    while (put < len) {
        ssize_t w = write(fd, data + put, len - put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        put += (size_t)w;
    }
    int ok = put == len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, dest) != 0) {
        rv_errf(err, err_size, "cannot write %s: %s", dest, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static rv_module *module_new(const char *sha, const rv_plugin *desc)
{
    rv_module *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    snprintf(m->sha256, sizeof m->sha256, "%s", sha);
    m->desc = desc;
    atomic_init(&m->refs, 1);
    return m;
}

/* sshd's StrictModes: code that anyone but its owner (root or this user)
 * could have changed is not run. */
static int check_owner(const char *path, char *err, size_t err_size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0; /* reading it says why */
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        rv_errf(err, err_size,
                "plugin %s: refused: the file is %s-writable (mode %04o); "
                "chmod go-w it",
                path, st.st_mode & S_IWOTH ? "world" : "group", (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        rv_errf(err, err_size,
                "plugin %s: refused: owned by uid %u, neither root nor this user (uid %u)", path,
                (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    return 0;
}

int rv_module_check_pin(const char *path, const char *sha, const char *pinned, char *err,
                        size_t err_size)
{
    if (!pinned || strcmp(pinned, sha) == 0)
        return 0;
    rv_errf(err, err_size, "plugin %s: refused: its sha256 is %s, the config pins %s", path, sha,
            pinned);
    return -1;
}

rv_module *rv_module_load(const char *path, const char *pinned, const char *state_dir, char *err,
                          size_t err_size)
{
    char why[1024];
    size_t len;
    if (check_owner(path, err, err_size) != 0)
        return NULL;
    char *data = rv_file_read(path, &len, why, sizeof why);
    if (!data) {
        rv_errf(err, err_size, "plugin %s: %s", path, why);
        return NULL;
    }
    char sha[65];
    rv_sha256_hex(data, len, sha);
    if (rv_module_check_pin(path, sha, pinned, err, err_size) != 0) {
        free(data);
        return NULL;
    }

    char dir[4096], dest[4200];
    snprintf(dir, sizeof dir, "%s/plugins", state_dir);
    snprintf(dest, sizeof dest, "%s/%s.so", dir, sha);
    int rc = rv_mkdir_p(dir, 0755, why, sizeof why);
    if (rc == 0)
        rc = write_private_copy(dest, data, len, why, sizeof why);
    free(data);
    if (rc != 0) {
        rv_errf(err, err_size, "plugin %s: %s", path, why);
        return NULL;
    }

    void *handle;
    const rv_plugin *desc = rv_module_open(dest, path, &handle, err, err_size);
    if (!desc)
        return NULL;
    rv_module *m = module_new(sha, desc);
    if (!m || !(m->source_path = strdup(path)) || !(m->loaded_path = strdup(dest))) {
        rv_errf(err, err_size, "plugin %s: out of memory", path);
        if (m) {
            free(m->source_path);
            free(m);
        }
        dlclose(handle);
        return NULL;
    }
    m->handle = handle;
    return m;
}

rv_module *rv_module_builtin(const rv_builtin *b, char *err, size_t err_size)
{
    char why[512];
    if (rv_module_check_abi(b->descriptor, why, sizeof why) != 0) {
        rv_errf(err, err_size, "builtin %s: %s", b->name, why);
        return NULL;
    }
    char sha[65];
    snprintf(sha, sizeof sha, "builtin:%s", b->name);
    rv_module *m = module_new(sha, b->descriptor);
    if (!m)
        rv_errf(err, err_size, "builtin %s: out of memory", b->name);
    return m;
}

rv_module *rv_module_ref(rv_module *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

void rv_module_unref(rv_module *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->handle)
        dlclose(m->handle);
    free(m->source_path);
    free(m->loaded_path);
    free(m);
}
