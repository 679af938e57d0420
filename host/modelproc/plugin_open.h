/*
 * plugin_open.h - opening a plugin file: dlopen, the entry symbol, the ABI
 * checks. What a model process needs of the loader, without modules.
 */
#ifndef RV_PLUGIN_OPEN_H
#define RV_PLUGIN_OPEN_H

#include <stddef.h>

#include "rendezvous_plugin.h"

/* dlopen()s file (a private copy) and checks its descriptor; shown names
 * the plugin in messages. The descriptor with the handle in *handle, or
 * NULL with the failed check in err. Model processes load this way. */
const rv_plugin *rv_module_open(const char *file, const char *shown, void **handle, char *err,
                                size_t err_size);

/* The ABI checks alone: 0 if the host accepts desc, else -1 and the failed
 * check with both values in err. */
int rv_module_check_abi(const rv_plugin *desc, char *err, size_t err_size);

#endif
