/*
 * plugin_open.c - dlopen a plugin file and check its descriptor's ABI
 * header before reading anything else of it. The host's module loader
 * (module.c) and a model process (proc_runner.c) open plugins this way.
 */
#include "plugin_open.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

#include "errbuf.h"

/* The size of ABI 1.0's descriptor: the least a plugin may declare. */
#define RV_PLUGIN_MIN_SIZE (offsetof(rv_plugin, destroy) + sizeof(void (*)(void *)))

int rv_module_check_abi(const rv_plugin *d, char *err, size_t err_size)
{
    if (!d) {
        rv_errf(err, err_size, "ABI check failed: %s() returned NULL", RV_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    const rv_abi_header *h = &d->abi;
    if (h->magic != RV_PLUGIN_MAGIC) {
        rv_errf(err, err_size,
                "ABI check failed: magic: plugin has 0x%08x, host expects 0x%08x "
                "(not a Rendezvous plugin descriptor)",
                h->magic, RV_PLUGIN_MAGIC);
        return -1;
    }
    if (h->major != RV_PLUGIN_ABI_MAJOR) {
        rv_errf(err, err_size,
                "ABI check failed: major version: plugin has %u, host has %u "
                "(rebuild the plugin against this host's rendezvous_plugin.h)",
                h->major, RV_PLUGIN_ABI_MAJOR);
        return -1;
    }
    if (h->minor > RV_PLUGIN_ABI_MINOR) {
        rv_errf(err, err_size,
                "ABI check failed: minor version: plugin has %u.%u, host has "
                "%u.%u (the plugin needs a newer host)",
                h->major, h->minor, RV_PLUGIN_ABI_MAJOR, RV_PLUGIN_ABI_MINOR);
        return -1;
    }
    if (h->struct_size < RV_PLUGIN_MIN_SIZE) {
        rv_errf(err, err_size,
                "ABI check failed: struct size: plugin declares %u bytes, "
                "ABI %u.0 needs at least %zu",
                h->struct_size, RV_PLUGIN_ABI_MAJOR, (size_t)RV_PLUGIN_MIN_SIZE);
        return -1;
    }
    if (h->build_signature != RV_BUILD_SIGNATURE) {
        rv_errf(err, err_size,
                "ABI check failed: build signature: plugin has 0x%08x, host has "
                "0x%08x (sizes of pointer/size_t/float/double differ)",
                h->build_signature, RV_BUILD_SIGNATURE);
        return -1;
    }
    if (!d->create || !d->score || !d->destroy) {
        rv_errf(err, err_size, "ABI check failed: plugin '%s' leaves %s NULL",
                d->name ? d->name : "?",
                !d->create  ? "create"
                : !d->score ? "score"
                            : "destroy");
        return -1;
    }
    return 0;
}

const rv_plugin *rv_module_open(const char *file, const char *shown, void **handle_out, char *err,
                                size_t err_size)
{
    void *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        rv_errf(err, err_size, "plugin %s: dlopen failed: %s", shown, dlerror());
        return NULL;
    }
    /* POSIX allows converting dlsym's result to a function pointer. */
    rv_plugin_entry_fn entry;
    *(void **)&entry = dlsym(handle, RV_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        rv_errf(err, err_size,
                "plugin %s: no entry symbol %s() (is it built against "
                "rendezvous_plugin.h with RV_PLUGIN_EXPORT?)",
                shown, RV_PLUGIN_ENTRY_SYMBOL);
        dlclose(handle);
        return NULL;
    }
    const rv_plugin *desc = entry();
    char why[1024];
    if (rv_module_check_abi(desc, why, sizeof why) != 0) {
        /* why holds copies of the plugin's values: safe after dlclose. */
        rv_errf(err, err_size, "plugin %s: %s", shown, why);
        dlclose(handle);
        return NULL;
    }
    *handle_out = handle;
    return desc;
}
