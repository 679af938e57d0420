/*
 * digest.c - SHA-256 through libcrypto's EVP interface, and the file helpers
 * around it (read a file whole, make a directory and its parents). Must never map or
 * keep a file open: it reads the content once and lets go.
 */
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"

static void to_hex(const unsigned char *md, char out[RV_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
}

void rv_sha256_hex(const void *data, size_t len, char out[RV_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    to_hex(md, out);
}

void rv_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len,
                        char out[RV_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, md, &md_len);
    to_hex(md, out);
}

int rv_mkdir_p(const char *dir, unsigned mode, char *err, size_t err_size)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) {
        rv_errf(err, err_size, "path too long: %s", dir);
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
        goto fail;
    return 0;
fail:
    rv_errf(err, err_size, "cannot create directory %s: %s", tmp, strerror(errno));
    return -1;
}

char *rv_file_read(const char *path, size_t *len, char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rv_errf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rv_errf(err, err_size, "%s is not a regular file", path);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        rv_errf(err, err_size, "cannot read %s: %s", path, buf ? "short read" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

int rv_sha256_file(const char *path, char out[RV_SHA256_HEX], char *err, size_t err_size)
{
    size_t len;
    char *buf = rv_file_read(path, &len, err, err_size);
    if (!buf)
        return -1;
    rv_sha256_hex(buf, len, out);
    free(buf);
    return 0;
}

struct rv_digest {
    EVP_MD_CTX *ctx;
};

rv_digest *rv_digest_new(void)
{
    rv_digest *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    if (!(d->ctx = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(d->ctx);
        free(d);
        return NULL;
    }
    return d;
}

void rv_digest_field(rv_digest *d, const char *field)
{
    EVP_DigestUpdate(d->ctx, field, strlen(field) + 1);
}

rv_digest *rv_digest_copy(const rv_digest *d)
{
    rv_digest *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    if (!(c->ctx = EVP_MD_CTX_new()) || !EVP_MD_CTX_copy_ex(c->ctx, d->ctx)) {
        EVP_MD_CTX_free(c->ctx);
        free(c);
        return NULL;
    }
    return c;
}

void rv_digest_finish(rv_digest *d, char out[RV_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(d->ctx, md, &n);
    to_hex(md, out);
    rv_digest_free(d);
}

void rv_digest_free(rv_digest *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}
