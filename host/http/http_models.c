/* http_models.c - GET /v1/models: models, versions, states, roles, queues,
 * last errors, the schedule and its version, as JSON. */
#include "http_internal.h"

#include "proc.h"

#include <string.h>

#include "json.h"
#include "worker.h"

/* A serving model's state; an isolated one is "restarting" while any of
 * its processes is down, "warming" while one is being created and warmed. */
static const char *model_state(const rv_model *m)
{
    int st = atomic_load(&m->state);
    for (uint32_t i = 0; m->isolated && st == RV_MODEL_LIVE && i < m->n_created; i++) {
        rv_proc_status ps;
        rv_proc_get_status(m->instances[i], &ps);
        if (ps.state == RV_PROC_RESTARTING)
            return "restarting";
        if (ps.state == RV_PROC_STARTING || ps.state == RV_PROC_WARMING)
            return rv_model_state_name(RV_MODEL_WARMING);
    }
    return rv_model_state_name(st);
}

/* "processes": one per instance - state, pid, restarts, last exit. */
static void processes(yajl_gen j, const rv_model *m)
{
    rv_json_string(j, "processes");
    yajl_gen_array_open(j);
    for (uint32_t i = 0; i < m->n_created; i++) {
        rv_proc_status ps;
        rv_proc_get_status(m->instances[i], &ps);
        yajl_gen_map_open(j);
        rv_json_string(j, "instance");
        yajl_gen_integer(j, i);
        rv_json_string(j, "state");
        rv_json_string(j, rv_proc_state_name(ps.state));
        rv_json_string(j, "pid");
        if (ps.pid)
            yajl_gen_integer(j, ps.pid);
        else
            yajl_gen_null(j);
        rv_json_string(j, "restarts");
        yajl_gen_integer(j, (long long)ps.restarts);
        rv_json_string(j, "last_exit");
        if (ps.last_exit[0])
            rv_json_string(j, ps.last_exit);
        else
            yajl_gen_null(j);
        rv_json_string(j, "last_exit_at_us");
        if (ps.last_exit_real_us)
            yajl_gen_integer(j, ps.last_exit_real_us);
        else
            yajl_gen_null(j);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
}

enum MHD_Result rv_http_get_models(rv_http *h, struct MHD_Connection *c)
{
    rv_generation *g = h->src.current(h->src.ctx);
    if (!g)
        return rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no generation serving");
    char last[512];
    h->src.last_reload_error(h->src.ctx, last, sizeof last);
    yajl_gen j = rv_json_gen_new();
    yajl_gen_config(j, yajl_gen_beautify, 1);
    yajl_gen_map_open(j);
    rv_json_string(j, "service");
    rv_json_string(j, g->cfg->service);
    rv_json_string(j, "generation");
    yajl_gen_integer(j, (long long)g->id);
    rv_json_string(j, "schedule_version");
    yajl_gen_integer(j, (long long)g->schedule_version);
    rv_json_string(j, "schedule");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < g->n_schedule; i++) {
        yajl_gen_map_open(j);
        rv_json_string(j, "model");
        rv_json_string(j, g->models[g->schedule[i]]->name);
        rv_json_string(j, "within_ms");
        yajl_gen_integer(j, g->within_ms[i]);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    rv_json_string(j, "models");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < g->n_models; i++) {
        const rv_model *m = g->models[i];
        yajl_gen_map_open(j);
        rv_json_string(j, "name");
        rv_json_string(j, m->name);
        rv_json_string(j, "version");
        rv_json_string(j, m->version);
        rv_json_string(j, "plugin");
        if (m->module)
            rv_json_string(j, m->module->desc->name);
        else
            yajl_gen_null(j);
        rv_json_string(j, "state");
        rv_json_string(j, model_state(m));
        rv_json_string(j, "isolation"); /* remote: scored elsewhere */
        rv_json_string(j, m->is_remote ? "remote" : m->isolated ? "process" : "none");
        if (m->isolated)
            processes(j, m);
        rv_json_string(j, "role");
        int scheduled = 0;
        for (size_t k = 0; k < g->n_schedule; k++)
            scheduled |= g->schedule[k] == i;
        rv_json_string(j, m->is_canary  ? "canary"
                          : m->is_decoy ? "decoy"
                          : scheduled   ? "scheduled"
                                        : "shadow");
        rv_json_string(j, "instances");
        yajl_gen_integer(j, m->n_instances);
        rv_json_string(j, "queue_depth");
        yajl_gen_integer(j, m->workers ? (long long)rv_workers_queued(m->workers) : 0);
        rv_json_string(j, "labels");
        yajl_gen_array_open(j);
        for (uint32_t l = 0; l < m->n_labels; l++)
            rv_json_string(j, m->labels[l]);
        yajl_gen_array_close(j);
        char last_error[sizeof m->last_error];
        rv_model_last_error((rv_model *)m, last_error, sizeof last_error);
        if (last_error[0])
            rv_json_bytes_field(j, "last_error", last_error, strlen(last_error));
        else {
            rv_json_string(j, "last_error");
            yajl_gen_null(j);
        }
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    if (*last)
        rv_json_bytes_field(j, "last_reload_error", last, strlen(last));
    else {
        rv_json_string(j, "last_reload_error");
        yajl_gen_null(j);
    }
    yajl_gen_map_close(j);
    rv_generation_unref(g);
    return rv_http_respond_json(c, j);
}
