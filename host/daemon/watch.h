/*
 * watch.h - `watch: true`: a change of the config file or of any plugin
 * file it names asks for a reload, as SIGHUP does. Uses inotify on the
 * directories that hold them (editors and `cp` replace files in ways a
 * watch on the file itself would miss), filtered by file name.
 */
#ifndef RV_WATCH_H
#define RV_WATCH_H

#include "config.h"

typedef struct rv_watch rv_watch;

/* NULL when cfg->watch is false or inotify is unavailable (logged). */
rv_watch *rv_watch_new(const rv_config *cfg);
void rv_watch_free(rv_watch *w);

/* Non-blocking: 1 once changes have settled (no new event for 200 ms),
 * else 0. Thread: the control loop. */
int rv_watch_poll(rv_watch *w);

#endif
