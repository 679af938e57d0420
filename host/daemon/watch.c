/*
 * watch.c - inotify on the config's and plugins' directories. Never
 * reloads by itself: it only tells the control loop that files changed.
 */
#include "watch.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SETTLE_MS 200

typedef struct watched {
    int wd;
    char *name; /* file name inside the watched directory */
} watched;

struct rv_watch {
    int fd;
    watched *files;
    size_t n;
    int64_t last_event_ms; /* 0: no change pending */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add_file(rv_watch *w, const char *path)
{
    char *d = strdup(path), *b = strdup(path);
    watched *nf = realloc(w->files, (w->n + 1) * sizeof *nf);
    if (!d || !b || !nf) {
        free(d);
        free(b);
        if (nf)
            w->files = nf;
        return;
    }
    w->files = nf;
    int wd =
        inotify_add_watch(w->fd, dirname(d), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
    if (wd < 0)
        rv_warn("watch", "cannot watch %s: %s", path, strerror(errno));
    else
        w->files[w->n++] = (watched){wd, strdup(basename(b))};
    free(d);
    free(b);
}

rv_watch *rv_watch_new(const rv_config *cfg)
{
    if (!cfg->watch)
        return NULL;
    rv_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        rv_warn("watch", "inotify unavailable (%s): reload with SIGHUP", strerror(errno));
        free(w);
        return NULL;
    }
    add_file(w, cfg->path);
    for (size_t i = 0; i < cfg->n_models; i++)
        if (cfg->models[i].plugin)
            add_file(w, cfg->models[i].plugin);
    rv_info("watch", "watching %s and %zu plugin file(s) for changes", cfg->path, w->n - 1);
    return w;
}

void rv_watch_free(rv_watch *w)
{
    if (!w)
        return;
    close(w->fd);
    for (size_t i = 0; i < w->n; i++)
        free(w->files[i].name);
    free(w->files);
    free(w);
}

int rv_watch_poll(rv_watch *w)
{
    if (!w)
        return 0;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t len;
    while ((len = read(w->fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            for (size_t i = 0; ev->len && i < w->n; i++)
                if (w->files[i].wd == ev->wd && strcmp(w->files[i].name, ev->name) == 0)
                    w->last_event_ms = mono_ms();
            p += sizeof *ev + ev->len;
        }
    }
    if (w->last_event_ms && mono_ms() - w->last_event_ms >= SETTLE_MS) {
        w->last_event_ms = 0;
        return 1;
    }
    return 0;
}
