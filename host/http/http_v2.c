/*
 * http_v2.c - the Open Inference Protocol's (KServe "v2") health and
 * metadata endpoints, for clients written for Triton, KServe and MLServer
 * (docs/http.md): GET /v2, /v2/health/live, /v2/health/ready,
 * /v2/models/NAME[/versions/V] and .../ready; and POST .../infer: on the
 * service's own name the rendezvous (every model scores, the schedule
 * chooses), on a model's a direct call (rv-model: that model alone scores,
 * its answer is the result); each row of the batch one request through the
 * gateway, answered together. A model's one version is its content hash.
 */
#include "http_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "jsonw.h"

/* What NAME (and version, "" for any) names in g: a model, the rendezvous
 * (*model NULL, returns 1), or nothing (0). */
static int find(const rv_generation *g, const char *name, size_t name_len, const char *version,
                const rv_model **model)
{
    *model = NULL;
    if (strlen(g->cfg->service) == name_len && !strncmp(g->cfg->service, name, name_len))
        return !*version || !strcmp(version, "1");
    for (size_t i = 0; i < g->n_models; i++) {
        const rv_model *m = g->models[i];
        if (strlen(m->name) == name_len && !strncmp(m->name, name, name_len) && !m->is_decoy &&
            (!*version || !strcmp(version, m->version))) {
            *model = m;
            return 1;
        }
    }
    return 0;
}

/* The labels a name answers with: the model's, or the first scheduled
 * model's for the rendezvous. */
static void labels_of(const rv_generation *g, const rv_model *m, const char *const **labels,
                      uint32_t *n)
{
    if (!m && g->n_schedule)
        m = g->models[g->schedule[0]];
    *labels = m ? m->labels : NULL;
    *n = m ? m->n_labels : 0;
}

static void tensor(yajl_gen j, const char *name, const char *datatype, long long rows,
                   long long cols)
{
    yajl_gen_map_open(j);
    rv_json_string(j, "name");
    rv_json_string(j, name);
    rv_json_string(j, "datatype");
    rv_json_string(j, datatype);
    rv_json_string(j, "shape");
    yajl_gen_array_open(j);
    yajl_gen_integer(j, rows);
    if (cols >= 0)
        yajl_gen_integer(j, cols);
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
}

static enum MHD_Result metadata(struct MHD_Connection *c, const rv_generation *g, const rv_model *m)
{
    const char *const *labels;
    uint32_t nl;
    labels_of(g, m, &labels, &nl);
    yajl_gen j = rv_json_gen_new();
    yajl_gen_map_open(j);
    rv_json_string(j, "name");
    rv_json_string(j, m ? m->name : g->cfg->service);
    rv_json_string(j, "versions");
    yajl_gen_array_open(j);
    rv_json_string(j, m ? m->version : "1");
    yajl_gen_array_close(j);
    rv_json_string(j, "platform");
    rv_json_string(j, !m             ? "rendezvous"
                      : m->builtin   ? "rendezvous_builtin"
                      : m->is_remote ? "rendezvous_remote"
                                     : "rendezvous_plugin");
    rv_json_string(j, "inputs");
    yajl_gen_array_open(j);
    /* rows x features in parameters.features' order (one input per
     * feature, named as it, is taken too: docs/http.md) */
    tensor(j, "features", "FP64", -1, (long long)g->cfg->input.n_features);
    yajl_gen_array_close(j);
    rv_json_string(j, "outputs");
    yajl_gen_array_open(j);
    tensor(j, "probabilities", "FP64", -1, nl);
    tensor(j, "label", "BYTES", -1, -1);
    yajl_gen_array_close(j);
    rv_json_string(j, "parameters");
    yajl_gen_map_open(j);
    rv_json_string(j, "labels");
    yajl_gen_array_open(j);
    for (uint32_t i = 0; i < nl; i++)
        rv_json_string(j, labels[i]);
    yajl_gen_array_close(j);
    rv_json_string(j, "features");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < g->cfg->input.n_features; i++)
        rv_json_string(j, g->cfg->input.features[i]);
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
    yajl_gen_map_close(j);
    return rv_http_respond_json(c, j);
}

int rv_http_v2_path(const char *url)
{
    return !strcmp(url, "/v2") || !strncmp(url, "/v2/", 4);
}

int rv_http_v2_open(const char *url)
{
    return !strcmp(url, "/v2/health/live") || !strcmp(url, "/v2/health/ready");
}

enum MHD_Result rv_http_get_v2(rv_http *h, struct MHD_Connection *c, const char *url)
{
    if (!strcmp(url, "/v2/health/live"))
        return rv_http_respond(c, MHD_HTTP_OK, "application/json", "{\"live\":true}", 13);
    rv_generation *g = h->src.current(h->src.ctx);
    enum MHD_Result r;
    char why[256];
    if (!strcmp(url, "/v2/health/ready")) {
        int ok = g && rv_http_readiness(h, g, why, sizeof why);
        r = ok ? rv_http_respond(c, MHD_HTTP_OK, "application/json", "{\"ready\":true}", 14)
               : rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s",
                                       g ? why : "no generation serving");
    } else if (!g) {
        r = rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no generation serving");
    } else if (!strcmp(url, "/v2")) {
        yajl_gen j = rv_json_gen_new();
        yajl_gen_map_open(j);
        rv_json_string(j, "name");
        rv_json_string(j, "rendezvous");
        rv_json_string(j, "version");
        rv_json_string(j, RV_VERSION);
        rv_json_string(j, "extensions");
        yajl_gen_array_open(j);
        yajl_gen_array_close(j);
        yajl_gen_map_close(j);
        r = rv_http_respond_json(c, j);
    } else if (!strncmp(url, "/v2/models/", 11)) {
        /* NAME[/versions/V][/ready] */
        const char *name = url + 11;
        size_t name_len = strcspn(name, "/");
        const char *rest = name + name_len;
        char version[64] = "";
        if (!strncmp(rest, "/versions/", 10)) {
            const char *v = rest + 10;
            size_t vl = strcspn(v, "/");
            snprintf(version, sizeof version, "%.*s", (int)(vl < 63 ? vl : 63), v);
            rest = v + vl;
        }
        int ready = !strcmp(rest, "/ready");
        const rv_model *m;
        if ((*rest && !ready) || !name_len) {
            r = rv_http_respond_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
        } else if (!find(g, name, name_len, version, &m)) {
            r = rv_http_respond_error(c, MHD_HTTP_NOT_FOUND, "no model %.*s%s%s in service %s",
                                      (int)name_len, name, *version ? " version " : "", version,
                                      g->cfg->service);
        } else if (ready) {
            int ok = m ? rv_model_can_answer(m) : rv_http_readiness(h, g, why, sizeof why);
            r = ok ? rv_http_respond(c, MHD_HTTP_OK, "application/json", "{\"ready\":true}", 14)
                   : rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%s is not ready",
                                           m ? m->name : g->cfg->service);
        } else {
            r = metadata(c, g, m);
        }
    } else {
        r = rv_http_respond_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
    }
    if (g)
        rv_generation_unref(g);
    return r;
}

/* ---- POST .../infer ---- */

#define V2_MAX_ROWS 1024

/* A batch's body: input.max_body_bytes for each of 64 rows. */
uint32_t rv_http_v2_max_body(const rv_http *h)
{
    return h->max_body > UINT32_MAX / 64 ? UINT32_MAX : h->max_body * 64;
}

int rv_http_v2_infer_path(const char *url)
{
    size_t n = strlen(url);
    return !strncmp(url, "/v2/models/", 11) && n > 17 && !strcmp(url + n - 6, "/infer");
}

/* The numbers of a tensor's data, nested lists flattened, into out (up
 * to max); the count, or -1 when an element is not a number. */
static long numbers(yajl_val v, double *out, long at, long max)
{
    if (YAJL_IS_NUMBER(v)) {
        if (at < max)
            out[at] = YAJL_GET_DOUBLE(v);
        return at + 1;
    }
    if (!YAJL_IS_ARRAY(v))
        return -1;
    for (size_t i = 0; i < v->u.array.len && at >= 0; i++)
        at = numbers(v->u.array.values[i], out, at, max);
    return at;
}

static const char *str_of(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

/* The rows x features matrix of a v2 request's inputs (NaN where a
 * per-feature input is absent): rows, or 0 with why. */
static long matrix(yajl_val inputs, const rv_config *cfg, double **x, char *why, size_t size)
{
    size_t nf = cfg->input.n_features;
    long rows = -1;
    if (!YAJL_IS_ARRAY(inputs) || !inputs->u.array.len) {
        snprintf(why, size, "inputs: expected a non-empty list of tensors");
        return 0;
    }
    for (size_t k = 0; k < inputs->u.array.len; k++) {
        yajl_val t = inputs->u.array.values[k];
        const char *name = str_of(t, "name"), *dtype = str_of(t, "datatype");
        const char *sp[] = {"shape", NULL}, *dp[] = {"data", NULL};
        yajl_val shape = yajl_tree_get(t, sp, yajl_t_array),
                 data = yajl_tree_get(t, dp, yajl_t_any);
        if (!name || !dtype || !shape || !data) {
            snprintf(why, size, "inputs[%zu]: name, datatype, shape and data are required", k);
            return 0;
        }
        if (strcmp(dtype, "FP64") && strcmp(dtype, "FP32") && strcmp(dtype, "INT64") &&
            strcmp(dtype, "INT32")) {
            snprintf(why, size, "input %s: datatype %s: FP64, FP32, INT64 or INT32 expected", name,
                     dtype);
            return 0;
        }
        long dims[2] = {0, 1};
        size_t nd = shape->u.array.len;
        for (size_t i = 0; i < nd && i < 2; i++)
            dims[i] = YAJL_IS_INTEGER(shape->u.array.values[i])
                          ? (long)YAJL_GET_INTEGER(shape->u.array.values[i])
                          : -1;
        int whole = !strcmp(name, "features");
        size_t col = 0;
        while (!whole && col < nf && strcmp(cfg->input.features[col], name))
            col++;
        if (!whole && col == nf) {
            snprintf(why, size,
                     "input %s: not a feature of the model: send 'features' (rows x %zu) or one "
                     "input per feature",
                     name, nf);
            return 0;
        }
        if (nd < 1 || nd > 2 || dims[0] < 1 || dims[0] > V2_MAX_ROWS ||
            (whole ? nd != 2 || dims[1] != (long)nf : nd == 2 && dims[1] != 1) ||
            (rows >= 0 && dims[0] != rows)) {
            snprintf(why, size,
                     "input %s: shape must be [rows, %zu] for features or [rows] for one feature, "
                     "rows 1..%d, the same for every input",
                     name, whole ? nf : (size_t)1, V2_MAX_ROWS);
            return 0;
        }
        if (rows < 0) {
            rows = dims[0];
            if (!(*x = malloc((size_t)rows * (nf ? nf : 1) * sizeof **x))) {
                snprintf(why, size, "out of memory");
                return 0;
            }
            for (long i = 0; i < rows * (long)nf; i++)
                (*x)[i] = NAN;
        }
        long want = whole ? rows * (long)nf : rows;
        double *vals = whole ? *x : malloc((size_t)rows * sizeof *vals);
        long got = vals ? numbers(data, vals, 0, want) : -1;
        if (got != want) {
            if (!whole)
                free(vals);
            snprintf(why, size, "input %s: data holds %s%ld numbers for shape %ld x %ld", name,
                     got < 0 ? "other than " : "", got < 0 ? want : got, dims[0], dims[1]);
            return 0;
        }
        if (!whole) {
            for (long r = 0; r < rows; r++)
                (*x)[r * (long)nf + (long)col] = vals[r];
            free(vals);
        }
    }
    return rows;
}

/* A row as the request body the input parses: {"feature": value, ...}
 * (a NaN left out: a missing feature). */
static void row_body(rv_jw *w, const rv_config *cfg, const double *x)
{
    rv_jw_restart(w);
    rv_jw_map_open(w);
    for (size_t i = 0; i < cfg->input.n_features; i++)
        if (isfinite(x[i])) {
            rv_jw_string(w, cfg->input.features[i]);
            rv_jw_double(w, x[i]);
        }
    rv_jw_map_close(w);
}

/* The v2 answer from the results: probabilities in labels' order, the
 * top label, and each row's chosen model and reason as parameters. */
static enum MHD_Result infer_answer(struct MHD_Connection *c, const rv_generation *g,
                                    const rv_model *m, const char *id, waiter **ws, long rows)
{
    const char *const *labels;
    uint32_t nl;
    labels_of(g, m, &labels, &nl);
    yajl_val *res = calloc((size_t)rows, sizeof *res);
    yajl_gen j = rv_json_gen_new();
    if (!res || !j) {
        free(res);
        if (j)
            yajl_gen_free(j);
        return rv_http_respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    for (long r = 0; r < rows; r++)
        res[r] = yajl_tree_parse(ws[r]->result, NULL, 0);
    const char *ap[] = {"answers", NULL};
    yajl_gen_map_open(j);
    rv_json_string(j, "model_name");
    rv_json_string(j, m ? m->name : g->cfg->service);
    rv_json_string(j, "model_version");
    rv_json_string(j, m ? m->version : "1");
    if (id) {
        rv_json_string(j, "id");
        rv_json_string(j, id);
    }
    rv_json_string(j, "outputs");
    yajl_gen_array_open(j);
    yajl_gen_map_open(j);
    rv_json_string(j, "name");
    rv_json_string(j, "probabilities");
    rv_json_string(j, "datatype");
    rv_json_string(j, "FP64");
    rv_json_string(j, "shape");
    yajl_gen_array_open(j);
    yajl_gen_integer(j, rows);
    yajl_gen_integer(j, nl);
    yajl_gen_array_close(j);
    rv_json_string(j, "data");
    yajl_gen_array_open(j);
    for (long r = 0; r < rows; r++) {
        yajl_val answers = res[r] ? yajl_tree_get(res[r], ap, yajl_t_array) : NULL;
        for (uint32_t l = 0; l < nl; l++) {
            double p = 0; /* a label the answer leaves out */
            for (size_t a = 0; answers && a < answers->u.array.len; a++) {
                yajl_val an = answers->u.array.values[a];
                const char *name = str_of(an, "label");
                const char *sp[] = {"score", NULL};
                yajl_val score = yajl_tree_get(an, sp, yajl_t_number);
                if (name && score && !strcmp(name, labels[l]))
                    p = YAJL_GET_DOUBLE(score);
            }
            yajl_gen_double(j, p);
        }
    }
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
    yajl_gen_map_open(j);
    rv_json_string(j, "name");
    rv_json_string(j, "label");
    rv_json_string(j, "datatype");
    rv_json_string(j, "BYTES");
    rv_json_string(j, "shape");
    yajl_gen_array_open(j);
    yajl_gen_integer(j, rows);
    yajl_gen_array_close(j);
    rv_json_string(j, "data");
    yajl_gen_array_open(j);
    for (long r = 0; r < rows; r++) {
        yajl_val answers = res[r] ? yajl_tree_get(res[r], ap, yajl_t_array) : NULL;
        const char *top =
            answers && answers->u.array.len ? str_of(answers->u.array.values[0], "label") : NULL;
        top ? rv_json_string(j, top) : yajl_gen_null(j);
    }
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
    yajl_gen_array_close(j);
    /* the choice for each row: the model and the reason ("direct" for a
     * direct call) */
    rv_json_string(j, "parameters");
    yajl_gen_map_open(j);
    static const char *const keys[][2] = {
        {"models", "model"}, {"reasons", "reason"}, {"ids", "id"}};
    for (size_t k = 0; k < 3; k++) {
        rv_json_string(j, keys[k][0]);
        yajl_gen_array_open(j);
        for (long r = 0; r < rows; r++) {
            const char *v = res[r] ? str_of(res[r], keys[k][1]) : NULL;
            v ? rv_json_string(j, v) : yajl_gen_null(j);
        }
        yajl_gen_array_close(j);
    }
    yajl_gen_map_close(j);
    yajl_gen_map_close(j);
    for (long r = 0; r < rows; r++)
        yajl_tree_free(res[r]);
    free(res);
    return rv_http_respond_json(c, j);
}

enum MHD_Result rv_http_post_v2_infer(rv_http *h, struct MHD_Connection *c, rv_upload *u,
                                      const char *url)
{
    if (u->too_large)
        return rv_http_respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body over %u bytes",
                                     rv_http_v2_max_body(h));
    rv_generation *g = h->src.current(h->src.ctx);
    char why[512];
    if (!rv_http_readiness(h, g, why, sizeof why)) {
        if (g)
            rv_generation_unref(g);
        return rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s", why);
    }
    /* /v2/models/NAME[/versions/V]/infer */
    const char *name = url + 11;
    size_t name_len = strcspn(name, "/");
    char version[64] = "";
    if (!strncmp(name + name_len, "/versions/", 10)) {
        const char *v = name + name_len + 10;
        snprintf(version, sizeof version, "%.*s", (int)strcspn(v, "/"), v);
    }
    const rv_model *m;
    enum MHD_Result r;
    yajl_val req = NULL;
    double *x = NULL;
    waiter **ws = NULL;
    long rows = 0, sent = 0;
    char *text = NULL;
    if (!find(g, name, name_len, version, &m)) {
        r = rv_http_respond_error(c, MHD_HTTP_NOT_FOUND, "no model %.*s%s%s in service %s",
                                  (int)name_len, name, *version ? " version " : "", version,
                                  g->cfg->service);
        goto done;
    }
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length")) {
        r = rv_http_respond_error(c, MHD_HTTP_BAD_REQUEST,
                                  "the binary tensor extension is not supported: send the "
                                  "tensors' data as JSON (tritonclient: binary_data=False)");
        goto done;
    }
    if (!(text = malloc(u->len + 1))) {
        r = rv_http_respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        goto done;
    }
    memcpy(text, u->body ? u->body : "", u->len);
    text[u->len] = '\0';
    char perr[256] = "";
    req = yajl_tree_parse(text, perr, sizeof perr);
    const char *ip[] = {"inputs", NULL};
    if (!req || !YAJL_IS_OBJECT(req)) {
        r = rv_http_respond_error(c, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object%s%.*s",
                                  *perr ? ": " : "", (int)strcspn(perr, "\n"), perr);
        goto done;
    }
    if (!(rows = matrix(yajl_tree_get(req, ip, yajl_t_any), g->cfg, &x, why, sizeof why))) {
        r = rv_http_respond_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
        goto done;
    }
    const char *id = str_of(req, "id");
    if (!(ws = calloc((size_t)rows, sizeof *ws))) {
        r = rv_http_respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        goto done;
    }
    rv_jw w = {0};
    for (long i = 0; i < rows; i++) {
        char rid[MAX_ID + 1];
        if (id)
            snprintf(rid, sizeof rid, rows > 1 ? "%.*s-%ld" : "%.*s", MAX_ID - 8, id, i);
        row_body(&w, g->cfg, x + i * (long)g->cfg->input.n_features);
        if (w.oom ||
            !(ws[i] = rv_http_gateway_send(h, id ? rid : NULL, m ? m->name : NULL, w.buf, w.len)))
            break;
        sent += !ws[i]->sent;
        if (ws[i]->sent)
            break;
    }
    rv_jw_free(&w);
    uint32_t last_ms = g->n_schedule ? g->within_ms[g->n_schedule - 1] : 0;
    long made = 0;
    while (made < rows && ws[made])
        made++;
    rv_http_gateway_wait(h, ws, (size_t)made, last_ms + DEADLINE_MARGIN_MS);
    long missing = 0;
    for (long i = 0; i < made; i++)
        missing += !ws[i]->result;
    if (sent < rows)
        r = rv_http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot produce the requests");
    else if (missing)
        r = rv_http_respond_error(c, MHD_HTTP_GATEWAY_TIMEOUT,
                                  "%ld of %ld rows without a result within %u ms", missing, rows,
                                  last_ms + DEADLINE_MARGIN_MS);
    else
        r = infer_answer(c, g, m, id, ws, rows);
    for (long i = 0; i < made; i++) {
        free(ws[i]->result);
        free(ws[i]);
    }
done:
    free(ws);
    free(x);
    free(text);
    yajl_tree_free(req);
    rv_generation_unref(g);
    return r;
}
