/*
 * module.h - turns a plugin file into a checked descriptor.
 *
 * A plugin file is never mapped where the user keeps it: it is copied to
 * <state_dir>/plugins/<sha256>.so and that private copy is dlopen()ed with
 * RTLD_NOW|RTLD_LOCAL. So a user may overwrite the original at any time
 * (the mapped copy is untouched), and a changed file gets a new name, which
 * dlopen() cannot confuse with the old code. The loader checks the ABI
 * header before it reads anything else of the descriptor and says which
 * check failed, with the plugin's values next to the host's.
 */
#ifndef RV_MODULE_H
#define RV_MODULE_H

#include <stdatomic.h>
#include <stddef.h>

#include "registry.h"
#include "digest.h"
#include "plugin_open.h"
#include "rendezvous_plugin.h"

typedef struct rv_module {
    char sha256[RV_SHA256_HEX]; /* of the file's content; "builtin:<name>" for builtins */
    char *source_path;          /* as configured; NULL for builtins */
    char *loaded_path;          /* the private copy; NULL for builtins */
    void *handle;               /* dlopen handle; NULL for builtins */
    const rv_plugin *desc;
    atomic_int refs;
} rv_module;

/* Loads the plugin at path: refused when group- or world-writable or owned
 * by a user other than root and this one, or when pinned (a hex SHA-256,
 * or NULL) is not its content's digest. On failure returns NULL and writes the reason
 * (which check failed, and why) into err. */
rv_module *rv_module_load(const char *path, const char *pinned, const char *state_dir, char *err,
                          size_t err_size);
/* 0 when pinned is NULL or equals sha (the digest of the file at path);
 * else -1 with both digests in err. */
int rv_module_check_pin(const char *path, const char *sha, const char *pinned, char *err,
                        size_t err_size);

/* Wraps the descriptor of a builtin of the table (canary, decoy); the same
 * ABI checks apply. */
rv_module *rv_module_builtin(const rv_builtin *b, char *err, size_t err_size);

rv_module *rv_module_ref(rv_module *m);
/* Drops a reference; the last one dlclose()s the plugin. */
void rv_module_unref(rv_module *m);

#endif
