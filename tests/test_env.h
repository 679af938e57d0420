/*
 * test_env.h - what the tests hand down to rv_config_load(), as main()
 * does: the builtins compiled in (rvbuiltin), registered once.
 */
#ifndef RV_TEST_ENV_H
#define RV_TEST_ENV_H

#include "registry.h"
#include "config.h"

static inline const rv_config_env *rv_test_env(void)
{
    static rv_builtins builtins;
    static rv_config_env env;
    if (!env.builtins) {
        rv_builtins_register_compiled(&builtins);
        env = (rv_config_env){.builtins = &builtins};
    }
    return &env;
}

#endif
