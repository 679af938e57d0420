/*
 * torch_plugin.cpp - TorchScript models (torch.jit.save) through Debian's
 * libtorch, the same 1.13 as the python3-torch that trains them.
 * docs/python-models.md has the contract; params:
 *
 *   model_file    the TorchScript file
 *   model_sha256  pin: a file with another digest is refused; the bytes
 *                 hashed are the bytes loaded
 *   labels        the output columns' names, comma-separated (required)
 *   output        probabilities (default) or logits (softmax applied here)
 *   dtype         float32 (default) or float64: what forward() is given
 *   threads       intra-op threads (default 1)
 *
 * A batch is one forward() call on a rows x features tensor (the config's
 * input.features order, NaN where a request lacks one; in a model process
 * made from the batch's matrix in shared memory, no copy but the dtype's
 * conversion); it must return
 * rows x labels. C++ inside, the plugin ABI's C outside: no exception
 * crosses it.
 */
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <openssl/evp.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "rendezvous_plugin.h"
#include "rv_answers.h"

namespace
{

struct TorchModel {
    torch::jit::script::Module module;
    std::vector<std::string> label_names;
    std::vector<const char *> labels;
    size_t n_features = 0;
    bool logits = false;
    torch::Dtype dtype = torch::kFloat32;
    std::vector<double> x; /* the batch's matrix */
};

void say(char *err, size_t size, const std::string &what)
{
    /* the first line: libtorch's messages carry a C++ backtrace after it */
    std::string line = what.substr(0, what.find('\n'));
    std::snprintf(err, size, "%s", line.c_str());
}

std::string sha256_hex(const std::string &bytes)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr))
        return "";
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; i++) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

int create(const rv_create_args *args, rv_model_info *info, void **instance, char *err,
           size_t err_size)
{
    const char *file = rv_param_get(args, "model_file");
    const char *labels = rv_param_get(args, "labels");
    if (!file || !labels || !*labels) {
        say(err, err_size, "params: model_file (a TorchScript file) and labels are required");
        return RV_EINVAL;
    }
    auto *m = new (std::nothrow) TorchModel;
    if (!m) {
        say(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    try {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            say(err, err_size, std::string("params.model_file: cannot open ") + file);
            delete m;
            return RV_EIO;
        }
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const char *pin = rv_param_get(args, "model_sha256");
        std::string sha = sha256_hex(bytes);
        if (pin && strcasecmp(pin, sha.c_str()) != 0) {
            say(err, err_size,
                std::string("params.model_file: ") + file + " refused: its sha256 is " + sha +
                    ", the config pins " + pin);
            delete m;
            return RV_EINVAL;
        }
        const char *threads = rv_param_get(args, "threads");
        at::set_num_threads(threads ? std::max(1, std::atoi(threads)) : 1);
        const char *output = rv_param_get(args, "output");
        const char *dtype = rv_param_get(args, "dtype");
        if ((output && strcmp(output, "probabilities") && strcmp(output, "logits")) ||
            (dtype && strcmp(dtype, "float32") && strcmp(dtype, "float64"))) {
            say(err, err_size,
                "params: output is probabilities or logits, dtype float32 or float64");
            delete m;
            return RV_EINVAL;
        }
        m->logits = output && !strcmp(output, "logits");
        m->dtype = dtype && !strcmp(dtype, "float64") ? torch::kFloat64 : torch::kFloat32;
        std::istringstream stream(bytes);
        m->module = torch::jit::load(stream);
        m->module.eval();
        for (const char *s = labels; s;) {
            const char *end = std::strchr(s, ',');
            m->label_names.emplace_back(s, end ? size_t(end - s) : std::strlen(s));
            s = end ? end + 1 : nullptr;
        }
        for (auto &l : m->label_names)
            m->labels.push_back(l.c_str());
        m->n_features = args->n_features;
    } catch (const std::exception &e) {
        say(err, err_size, std::string(file) + ": " + e.what());
        delete m;
        return RV_EINVAL;
    }
    info->labels = m->labels.data();
    info->n_labels = uint32_t(m->labels.size());
    *instance = m;
    return RV_OK;
}

int score(void *instance, const rv_request *const *requests, rv_result *const *results, size_t n,
          char *err, size_t err_size)
{
    auto *m = static_cast<TorchModel *>(instance);
    const size_t nf = m->n_features, nl = m->labels.size();
    try {
        // the batch's matrix where the host laid it out (no copy), else one
        // filled here
        const double *rows = rv_batch_features(requests, n, nf);
        if (!rows) {
            m->x.resize(n * nf);
            for (size_t r = 0; r < n; r++)
                std::memcpy(m->x.data() + r * nf, requests[r]->features, nf * sizeof(double));
            rows = m->x.data();
        }
        torch::InferenceMode guard;
        auto x = torch::from_blob(const_cast<double *>(rows), {int64_t(n), int64_t(nf)},
                                  torch::kFloat64)
                     .to(m->dtype);
        auto y = m->module.forward({x}).toTensor();
        if (y.dim() != 2 || y.size(0) != int64_t(n) || y.size(1) != int64_t(nl)) {
            std::ostringstream why;
            why << "forward returned shape " << y.sizes() << " for " << n << " rows and " << nl
                << " labels";
            say(err, err_size, why.str());
            return RV_EMODEL;
        }
        if (m->logits)
            y = at::softmax(y, 1);
        y = y.to(torch::kFloat64).contiguous();
        const double *p = y.data_ptr<double>();
        for (size_t i = 0; i < n * nl; i++)
            if (!(p[i] >= 0 && p[i] <= 1)) {
                say(err, err_size,
                    "forward returned a value that is not a probability (NaN, or out of [0, 1]): "
                    "give output: logits if it returns logits");
                return RV_EMODEL;
            }
        for (size_t r = 0; r < n; r++)
            rv_fill_top_answers(results[r], p + r * nl, nl);
    } catch (const std::exception &e) {
        say(err, err_size, std::string("forward: ") + e.what());
        return RV_EMODEL;
    }
    return RV_OK;
}

void destroy(void *instance)
{
    delete static_cast<TorchModel *>(instance);
}

const rv_plugin torch_plugin = {
    RV_ABI_HEADER_INIT,
    "torch",
    "a TorchScript model (torch.jit.save) through libtorch",
    "1.0",
    0,
    create,
    nullptr,
    score,
    destroy,
};

} // namespace

RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void)
{
    return &torch_plugin;
}
