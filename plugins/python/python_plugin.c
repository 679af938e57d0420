/*
 * python_plugin.c - models written in Python, served in the model process
 * by an embedded CPython (Debian's libpython3): one interpreter per model
 * process, so no GIL is shared between models. docs/python-models.md has
 * the contract; in short, params:
 *
 *   module       a .py file defining predict(model, X) -> n x labels
 *                probabilities, and optionally load(params) -> model and
 *                LABELS; without it, model_file is a pickle of an object
 *                with predict_proba (a scikit-learn Pipeline, say)
 *   model_file   the model's file (a pickle, unless load() reads it)
 *   module_sha256, model_sha256   pins: a file with another digest is
 *                refused. The bytes hashed are the bytes run: the module
 *                is compiled from them and the model unpickled from them
 *                (load() gets them as params["model_bytes"])
 *   labels       the label names, comma-separated (else LABELS, else the
 *                model's classes_)
 *   threads      NumPy's BLAS and OpenMP threads (default 1), set before
 *                the interpreter starts
 *
 * X is a read-only NumPy float64 view (rows x config's input.features, NaN
 * where a feature is missing) of the batch's matrix where the host laid it
 * out (rv_batch_features: in the model process's shared memory, no copy),
 * valid during the call only; a matrix this plugin fills when the rows lie
 * apart. An
 * exception, a result of the wrong shape or a value that is not a finite
 * number in [0, 1] fails the batch with the exception's last line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rendezvous_plugin.h"
#include "rv_answers.h"

/* The Python side: builds the model from the pinned bytes and checks what
 * predict() returns. Runs in a module of its own. */
static const char GLUE[] =
    "import hashlib, os, pickle, sys, traceback, types\n"
    "import numpy\n"
    "sys.dont_write_bytecode = True\n"
    "def last_line(e):\n"
    "    return traceback.format_exception_only(type(e), e)[-1].strip()\n"
    "def build(module_src, module_path, model_bytes, params, labels):\n"
    "    model, predict = None, None\n"
    "    if module_src is not None:\n"
    "        mod = types.ModuleType('rendezvous_model')\n"
    "        mod.__file__ = module_path\n"
    "        here = os.path.dirname(module_path)\n"
    "        if here not in sys.path:\n"
    "            sys.path.insert(0, here)\n"
    "        exec(compile(module_src, module_path, 'exec'), mod.__dict__)\n"
    "        predict = getattr(mod, 'predict', None)\n"
    "        if not callable(predict):\n"
    "            raise TypeError(module_path + ' defines no predict(model, X)')\n"
    "        p = dict(params)\n"
    "        if model_bytes is not None:\n"
    "            p['model_bytes'] = model_bytes\n"
    "        if callable(getattr(mod, 'load', None)):\n"
    "            model = mod.load(p)\n"
    "        elif model_bytes is not None:\n"
    "            model = pickle.loads(model_bytes)\n"
    "        if not labels:\n"
    "            labels = [str(x) for x in getattr(mod, 'LABELS', [])]\n"
    "    else:\n"
    "        model = pickle.loads(model_bytes)\n"
    "        if not callable(getattr(model, 'predict_proba', None)):\n"
    "            raise TypeError('the model has no predict_proba: give a module')\n"
    "        predict = lambda m, X: m.predict_proba(X)\n"
    "    if not labels:\n"
    "        labels = [str(x) for x in getattr(model, 'classes_', [])]\n"
    "    if not labels:\n"
    "        raise ValueError('no labels: set params.labels, LABELS in the module, or a '\n"
    "                         'model with classes_')\n"
    "    return model, predict, list(labels)\n"
    "def call(predict, model, mv, n, nf, nl):\n"
    "    try:\n"
    "        X = numpy.frombuffer(mv, dtype=numpy.float64, count=n * nf).reshape(n, nf)\n"
    "        a = numpy.ascontiguousarray(predict(model, X), dtype=numpy.float64)\n"
    "        if a.shape != (n, nl):\n"
    "            return 'predict returned shape %s for %d rows and %d labels' % (a.shape, n, nl)\n"
    "        if not numpy.all((a >= 0) & (a <= 1)):\n"
    "            return 'predict returned a value that is not a probability (NaN, or out of [0, "
    "1])'\n"
    "        return a\n"
    "    except BaseException as e:\n"
    "        return last_line(e)\n";

typedef struct py_model {
    PyObject *call, *predict, *model; /* glue.call, the user's predict, the model */
    size_t n_features, n_labels;
    char **labels;
    double *x; /* the batch's matrix, rows x n_features */
    size_t x_rows;
} py_model;

/* The pending exception's last line into err (and the exception cleared). */
static void py_error(const char *what, char *err, size_t err_size)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    const char *name = type ? ((PyTypeObject *)type)->tp_name : "error";
    snprintf(err, err_size, "%s: %s: %s", what, name, msg ? msg : "(no message)");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* The file's bytes, checked against pin (hex SHA-256) when given, as a
 * Python bytes object; NULL with err. */
static PyObject *pinned_bytes(PyObject *hashlib, const char *key, const char *path, const char *pin,
                              char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "params.%s: cannot open %s: %s", key, path, strerror(errno));
        return NULL;
    }
    PyObject *b = NULL;
    char *data = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            char *grown = realloc(data, cap = cap ? 2 * cap : 1 << 16);
            if (!grown) {
                fclose(f);
                free(data);
                snprintf(err, err_size, "params.%s: out of memory reading %s", key, path);
                return NULL;
            }
            data = grown;
        }
        got = fread(data + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, err_size, "params.%s: cannot read %s", key, path);
        free(data);
        return NULL;
    }
    b = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    free(data);
    if (!b) {
        py_error(path, err, err_size);
        return NULL;
    }
    if (pin) {
        PyObject *h = PyObject_CallMethod(hashlib, "sha256", "O", b);
        PyObject *hex = h ? PyObject_CallMethod(h, "hexdigest", NULL) : NULL;
        const char *sha = hex ? PyUnicode_AsUTF8(hex) : NULL;
        int ok = sha && strcasecmp(sha, pin) == 0;
        if (!sha)
            py_error(path, err, err_size);
        else if (!ok)
            snprintf(err, err_size, "params.%s: %s refused: its sha256 is %s, the config pins %s",
                     key, path, sha, pin);
        Py_XDECREF(hex);
        Py_XDECREF(h);
        if (!ok) {
            Py_DECREF(b);
            return NULL;
        }
    }
    return b;
}

/* The interpreter, once per process, its symbols global so that extension
 * modules (NumPy's) find them; the GIL released after. 0 or -1. */
static int start_python(const rv_create_args *args, char *err, size_t err_size)
{
    if (Py_IsInitialized())
        return 0;
    Dl_info info;
    if (!dladdr((void *)Py_Initialize, &info) ||
        !dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) {
        snprintf(err, err_size, "cannot make libpython's symbols global: %s", dlerror());
        return -1;
    }
    const char *threads = rv_param_get(args, "threads");
    if (!threads)
        threads = "1";
    static const char *const vars[] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                       "MKL_NUM_THREADS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        setenv(vars[i], threads, 1);
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config); /* no PYTHON* variables, no user site */
    config.install_signal_handlers = 0;   /* the model process's signals are its own */
    config.write_bytecode = 0;
    config.site_import = 1; /* Debian's dist-packages */
    PyStatus st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(err, err_size, "cannot start Python: %s", st.err_msg ? st.err_msg : "?");
        return -1;
    }
    PyEval_SaveThread();
    return 0;
}

static void free_model(py_model *m)
{
    if (!m)
        return;
    if (Py_IsInitialized()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_XDECREF(m->call);
        Py_XDECREF(m->predict);
        Py_XDECREF(m->model);
        PyGILState_Release(g);
    }
    for (size_t i = 0; m->labels && i < m->n_labels; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->x);
    free(m);
}

/* The params but the plugin's own, as a dict of str. */
static PyObject *user_params(const rv_create_args *args)
{
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < args->n_params; i++) {
        PyObject *v = PyUnicode_FromString(args->params[i].value);
        if (!v || PyDict_SetItemString(d, args->params[i].key, v) != 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

/* Labels from params.labels ("a,b,c"), as a list, or an empty list. */
static PyObject *param_labels(const rv_create_args *args)
{
    PyObject *l = PyList_New(0);
    const char *s = rv_param_get(args, "labels");
    while (l && s && *s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        PyObject *v = PyUnicode_FromStringAndSize(s, (Py_ssize_t)n);
        if (!v || PyList_Append(l, v) != 0) {
            Py_XDECREF(v);
            Py_DECREF(l);
            return NULL;
        }
        Py_DECREF(v);
        s = end ? end + 1 : NULL;
    }
    return l;
}

/* Builds the model under the GIL; 0, or -1 with err. */
static int build(py_model *m, const rv_create_args *args, char *err, size_t err_size)
{
    const char *module = rv_param_get(args, "module"), *file = rv_param_get(args, "model_file");
    if (!module && !file) {
        snprintf(err, err_size, "params: give module (a .py file), model_file (a pickle), or both");
        return -1;
    }
    int rc = -1;
    PyObject *glue_mod = NULL, *hashlib = NULL, *src = NULL, *bytes = NULL, *params = NULL,
             *labels = NULL, *built = NULL, *code = NULL;
    if (!(code = Py_CompileString(GLUE, "<rendezvous python plugin>", Py_file_input)) ||
        !(glue_mod = PyImport_ExecCodeModule("rendezvous_glue", code)) ||
        !(hashlib = PyImport_ImportModule("hashlib"))) {
        py_error("starting the plugin's Python side", err, err_size);
        goto done;
    }
    if (module && !(src = pinned_bytes(hashlib, "module", module,
                                       rv_param_get(args, "module_sha256"), err, err_size)))
        goto done;
    if (file && !(bytes = pinned_bytes(hashlib, "model_file", file,
                                       rv_param_get(args, "model_sha256"), err, err_size)))
        goto done;
    if (!(params = user_params(args)) || !(labels = param_labels(args))) {
        py_error("params", err, err_size);
        goto done;
    }
    built = PyObject_CallMethod(glue_mod, "build", "OsOOO", src ? src : Py_None,
                                module ? module : "", bytes ? bytes : Py_None, params, labels);
    if (!built) {
        py_error(module ? module : file, err, err_size);
        goto done;
    }
    PyObject *names = PyTuple_GetItem(built, 2);
    Py_ssize_t nl = names ? PyList_Size(names) : -1;
    if (nl <= 0 || !(m->labels = calloc((size_t)nl, sizeof *m->labels))) {
        snprintf(err, err_size, "no labels, or out of memory");
        goto done;
    }
    for (Py_ssize_t i = 0; i < nl; i++) {
        const char *s = PyUnicode_AsUTF8(PyList_GetItem(names, i));
        if (!s || !(m->labels[i] = strdup(s))) {
            py_error("labels", err, err_size);
            goto done;
        }
        m->n_labels = (size_t)i + 1;
    }
    m->model = Py_NewRef(PyTuple_GetItem(built, 0));
    m->predict = Py_NewRef(PyTuple_GetItem(built, 1));
    if (!(m->call = PyObject_GetAttrString(glue_mod, "call"))) {
        py_error("glue", err, err_size);
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(code);
    Py_XDECREF(glue_mod);
    Py_XDECREF(hashlib);
    Py_XDECREF(src);
    Py_XDECREF(bytes);
    Py_XDECREF(params);
    Py_XDECREF(labels);
    Py_XDECREF(built);
    return rc;
}

static int py_create(const rv_create_args *args, rv_model_info *info, void **instance, char *err,
                     size_t err_size)
{
    if (start_python(args, err, err_size) != 0)
        return RV_EMODEL;
    py_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    m->n_features = args->n_features;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = build(m, args, err, err_size);
    PyGILState_Release(g);
    if (rc != 0) {
        free_model(m);
        return RV_EINVAL;
    }
    info->labels = (const char *const *)m->labels;
    info->n_labels = (uint32_t)m->n_labels;
    *instance = m;
    return RV_OK;
}

/* The answers of a result array (rows x labels, C-contiguous float64). */
static void fill(const py_model *m, PyObject *a, rv_result *const *results, size_t n)
{
    Py_buffer view;
    if (PyObject_GetBuffer(a, &view, PyBUF_C_CONTIGUOUS) != 0)
        return;
    const double *p = view.buf;
    for (size_t r = 0; r < n; r++)
        rv_fill_top_answers(results[r], p + r * m->n_labels, m->n_labels);
    PyBuffer_Release(&view);
}

static int py_score(void *instance, const rv_request *const *requests, rv_result *const *results,
                    size_t n, char *err, size_t err_size)
{
    py_model *m = instance;
    const double *x = rv_batch_features(requests, n, m->n_features);
    if (!x && n > m->x_rows) {
        double *grown = realloc(m->x, n * (m->n_features ? m->n_features : 1) * sizeof *grown);
        if (!grown) {
            snprintf(err, err_size, "out of memory");
            return RV_ENOMEM;
        }
        m->x = grown;
        m->x_rows = n;
    }
    if (!x) {
        for (size_t r = 0; r < n; r++)
            memcpy(m->x + r * m->n_features, requests[r]->features, m->n_features * sizeof *m->x);
        x = m->x;
    }
    int rc = RV_OK;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *mv =
        PyMemoryView_FromMemory((char *)x, (Py_ssize_t)(n * m->n_features * sizeof *x), PyBUF_READ);
    PyObject *a =
        mv ? PyObject_CallFunction(m->call, "OOOnnn", m->predict, m->model, mv, (Py_ssize_t)n,
                                   (Py_ssize_t)m->n_features, (Py_ssize_t)m->n_labels)
           : NULL;
    if (!a) {
        py_error("predict", err, err_size);
        rc = RV_EMODEL;
    } else if (PyUnicode_Check(a)) {
        const char *s = PyUnicode_AsUTF8(a);
        snprintf(err, err_size, "%s", s ? s : "predict failed");
        rc = RV_EMODEL;
    } else {
        fill(m, a, results, n);
    }
    Py_XDECREF(a);
    Py_XDECREF(mv);
    PyGILState_Release(g);
    return rc;
}

static void py_destroy(void *instance)
{
    /* the interpreter stays: finalizing it with extension modules loaded
     * is not safe, and the process ends with its model */
    free_model(instance);
}

static const rv_plugin python_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "python",
    .description = "a Python model: predict(model, X), or a pickle with predict_proba",
    .version = "1.0",
    .flags = 0,
    .create = py_create,
    .warm = NULL,
    .score = py_score,
    .destroy = py_destroy,
};

RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void)
{
    return &python_plugin;
}
