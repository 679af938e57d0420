/*
 * digest.h - SHA-256 (OpenSSL's libcrypto) as lowercase hex: of a buffer, of
 * a file's content, and incrementally over NUL-separated fields. Content
 * hashes name plugin copies and model versions.
 */
#ifndef RV_DIGEST_H
#define RV_DIGEST_H

#include <stddef.h>

#define RV_SHA256_HEX 65 /* 64 hex digits and the NUL */

/* Hex SHA-256 of len bytes at data. */
void rv_sha256_hex(const void *data, size_t len, char out[RV_SHA256_HEX]);

/* Hex HMAC-SHA256 of len bytes at data with the key. */
void rv_hmac_sha256_hex(const void *key, size_t key_len, const void *data, size_t len,
                        char out[RV_SHA256_HEX]);

/* Reads a whole regular file into a new buffer (NUL-terminated, *len bytes
 * of content). NULL with err set. */
char *rv_file_read(const char *path, size_t *len, char *err, size_t err_size);

/* Makes dir and its missing parents with mode. 0, or -1 with err set. */
int rv_mkdir_p(const char *dir, unsigned mode, char *err, size_t err_size);

/* Hex SHA-256 of a file's content. 0, or -1 with err set. */
int rv_sha256_file(const char *path, char out[RV_SHA256_HEX], char *err, size_t err_size);

/* An incremental digest over fields: each field is fed with its NUL, so
 * ("ab","c") and ("a","bc") differ. */
typedef struct rv_digest rv_digest;
rv_digest *rv_digest_new(void); /* NULL on out of memory */
void rv_digest_field(rv_digest *d, const char *field);
/* A copy of the state so far, to finish two digests that share a prefix. */
rv_digest *rv_digest_copy(const rv_digest *d);
/* Writes the hex digest and frees d. */
void rv_digest_finish(rv_digest *d, char out[RV_SHA256_HEX]);
void rv_digest_free(rv_digest *d);

#endif
