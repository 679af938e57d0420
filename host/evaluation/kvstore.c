/*
 * kvstore.c - keys to values with an expiry, and named marks, in LMDB.
 * Three databases in one environment: "values" (key -> expiry, value),
 * "expiry" (expiry, key -> nothing: the order to expire and evict in) and
 * "marks" (name -> int64). Never blocks on anything but the disk.
 */
#include "kvstore.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "errbuf.h"

/* Copy-on-write needs free pages beside the live ones (a transaction
 * writes new pages before the old are free, and a page split leaves pages
 * half full): past half the map in use, values are evicted down to 3/8. */
#define HIGH_WATER(s) ((s)->max_bytes / 2)
#define LOW_WATER(s) ((s)->max_bytes * 3 / 8)

struct rv_kvstore {
    MDB_env *env;
    MDB_dbi values, expiry, marks;
    MDB_txn *txn; /* the open write transaction, or NULL */
    uint64_t max_bytes;
    uint64_t evicted, expired;
    char key[8 + RV_KVSTORE_MAX_KEY]; /* an expiry index key being built */
};

/* An int64 as 8 bytes whose byte order is the numbers' order. */
static void put_be64(unsigned char *out, int64_t v)
{
    uint64_t u = (uint64_t)v ^ (UINT64_C(1) << 63);
    for (int i = 7; i >= 0; i--, u >>= 8)
        out[i] = (unsigned char)u;
}

static int64_t get_be64(const unsigned char *in)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | in[i];
    return (int64_t)(u ^ (UINT64_C(1) << 63));
}

static MDB_val expiry_key(rv_kvstore *s, int64_t expires, const void *key, size_t key_len)
{
    put_be64((unsigned char *)s->key, expires);
    memcpy(s->key + 8, key, key_len);
    return (MDB_val){8 + key_len, s->key};
}

/* Pages the databases use, in bytes (what the bound is about: freed
 * pages are reused before the file grows). */
static uint64_t used_bytes(rv_kvstore *s, MDB_txn *txn)
{
    MDB_dbi dbis[] = {s->values, s->expiry, s->marks};
    MDB_stat st;
    uint64_t pages = 0, psize = 4096;
    for (size_t i = 0; i < sizeof dbis / sizeof *dbis; i++)
        if (mdb_stat(txn, dbis[i], &st) == 0) {
            pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
            psize = st.ms_psize;
        }
    return pages * psize;
}

static int fail(rv_kvstore *s, int rc, const char *what, char *err, size_t err_size)
{
    rv_errf(err, err_size, "store: %s: %s", what, mdb_strerror(rc));
    rv_kvstore_abort(s);
    return RV_KV_ERROR;
}

/* Evicts up to max values soonest to expire in one transaction; *n how
 * many, *used the bytes in use after. 0 or an LMDB error. */
static int evict_some(rv_kvstore *s, uint64_t max, uint64_t *n, uint64_t *used)
{
    MDB_txn *txn;
    MDB_cursor *c;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->expiry, &c))) {
        mdb_txn_abort(txn);
        return rc;
    }
    MDB_val k, v;
    *n = 0;
    while (*n < max && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
        MDB_val key = {k.mv_size - 8, (char *)k.mv_data + 8};
        if ((rc = mdb_del(txn, s->values, &key, NULL)) && rc != MDB_NOTFOUND)
            break;
        if ((rc = mdb_cursor_del(c, 0)))
            break;
        ++*n;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return rc;
    }
    *used = used_bytes(s, txn);
    return mdb_txn_commit(txn);
}

/* Evicts the values soonest to expire while more than limit bytes are in
 * use, down to target, in small transactions of their own: one big one
 * needs room for every page it copies, which a full store does not have.
 * 0 or an LMDB error. */
static int make_room(rv_kvstore *s, uint64_t limit, uint64_t target)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    uint64_t used = used_bytes(s, txn);
    mdb_txn_abort(txn);
    if (used <= limit)
        return 0;
    uint64_t n, batch = 256;
    do {
        /* a store full to the last page has no room even for the copies a
         * deletion makes: fewer at a time */
        while ((rc = evict_some(s, batch, &n, &used)) == MDB_MAP_FULL && batch > 1)
            batch /= 16;
        if (rc)
            return rc;
        s->evicted += n;
    } while (n > 0 && used > target);
    return 0;
}

/* An LMDB error of a change: out of room, or a failure. */
static rv_kv_status change_failed(rv_kvstore *s, int rc, const char *what, char *err,
                                  size_t err_size)
{
    if (rc != MDB_MAP_FULL)
        return fail(s, rc, what, err, err_size);
    rv_kvstore_abort(s);
    if ((rc = make_room(s, 0, s->max_bytes / 4)))
        return fail(s, rc, "making room", err, err_size);
    return RV_KV_RETRY;
}

rv_kvstore *rv_kvstore_open(const char *dir, uint64_t max_bytes, char *err, size_t err_size)
{
    char why[RV_ERR_SIZE];
    if (rv_mkdir_p(dir, 0700, why, sizeof why) != 0) {
        rv_errf(err, err_size, "store %s: %s", dir, why);
        return NULL;
    }
    rv_kvstore *s = calloc(1, sizeof *s);
    if (!s) {
        rv_errf(err, err_size, "store: out of memory");
        return NULL;
    }
    s->max_bytes = (max_bytes + 4095) / 4096 * 4096; /* whole pages, as LMDB wants */
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&s->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(s->env, 3);
    if (!rc)
        rc = mdb_env_set_mapsize(s->env, (size_t)s->max_bytes);
    if (!rc)
        rc = mdb_env_open(s->env, dir, MDB_NOMETASYNC, 0600);
    if (!rc)
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, "values", MDB_CREATE, &s->values);
    if (!rc)
        rc = mdb_dbi_open(txn, "expiry", MDB_CREATE, &s->expiry);
    if (!rc)
        rc = mdb_dbi_open(txn, "marks", MDB_CREATE, &s->marks);
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc) {
        rv_errf(err, err_size, "store %s: %s", dir, mdb_strerror(rc));
        if (txn)
            mdb_txn_abort(txn);
        if (s->env)
            mdb_env_close(s->env);
        free(s);
        return NULL;
    }
    /* a store left fuller than this bound by an earlier, bigger one */
    if ((rc = make_room(s, HIGH_WATER(s), LOW_WATER(s)))) {
        rv_errf(err, err_size, "store %s: making room: %s", dir, mdb_strerror(rc));
        rv_kvstore_close(s);
        return NULL;
    }
    return s;
}

void rv_kvstore_close(rv_kvstore *s)
{
    if (!s)
        return;
    rv_kvstore_abort(s);
    mdb_env_close(s->env);
    free(s);
}

int rv_kvstore_begin(rv_kvstore *s, char *err, size_t err_size)
{
    if (s->txn)
        return 0;
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
    if (rc) {
        s->txn = NULL;
        return fail(s, rc, "begin", err, err_size);
    }
    return 0;
}

rv_kv_status rv_kvstore_commit(rv_kvstore *s, char *err, size_t err_size)
{
    if (!s->txn)
        return RV_KV_OK;
    int rc = mdb_txn_commit(s->txn);
    s->txn = NULL;
    if (rc)
        return change_failed(s, rc, "commit", err, err_size);
    /* committed: room not made now is made by the next change that needs
     * it (a failure here is not the commit's: the caller must not apply
     * the same changes again) */
    make_room(s, HIGH_WATER(s), LOW_WATER(s));
    return RV_KV_OK;
}

void rv_kvstore_abort(rv_kvstore *s)
{
    if (s->txn)
        mdb_txn_abort(s->txn);
    s->txn = NULL;
}

const void *rv_kvstore_get(rv_kvstore *s, const void *key, size_t key_len, size_t *len,
                           int64_t *expires)
{
    MDB_val k = {key_len, (void *)key}, v;
    if (!s->txn || key_len == 0 || key_len > RV_KVSTORE_MAX_KEY ||
        mdb_get(s->txn, s->values, &k, &v) != 0 || v.mv_size < 8)
        return NULL;
    *expires = get_be64(v.mv_data);
    *len = v.mv_size - 8;
    return (const char *)v.mv_data + 8;
}

/* Removes key's entry in the expiry index, if it has a value, unless its
 * expiry is *keep (then *kept is set: the entry stays as it is). */
static int unindex(rv_kvstore *s, MDB_val *k, const int64_t *keep, int *kept)
{
    MDB_val v;
    *kept = 0;
    int rc = mdb_get(s->txn, s->values, k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    int64_t expires = get_be64(v.mv_data);
    if ((*kept = keep && expires == *keep))
        return 0;
    MDB_val ek = expiry_key(s, expires, k->mv_data, k->mv_size);
    rc = mdb_del(s->txn, s->expiry, &ek, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

rv_kv_status rv_kvstore_put(rv_kvstore *s, const void *key, size_t key_len, const void *value,
                            size_t len, int64_t expires, char *err, size_t err_size)
{
    if (key_len == 0 || key_len > RV_KVSTORE_MAX_KEY) {
        rv_errf(err, err_size, "store: a key of %zu bytes (1 to %d)", key_len, RV_KVSTORE_MAX_KEY);
        return RV_KV_ERROR;
    }
    if (rv_kvstore_begin(s, err, err_size) != 0)
        return RV_KV_ERROR;
    MDB_val k = {key_len, (void *)key}, v = {8 + len, NULL}, none = {0, NULL};
    int indexed;
    int rc = unindex(s, &k, &expires, &indexed);
    if (!rc)
        rc = mdb_put(s->txn, s->values, &k, &v, MDB_RESERVE);
    if (!rc) {
        put_be64(v.mv_data, expires);
        if (len)
            memcpy((char *)v.mv_data + 8, value, len);
    }
    if (!rc && !indexed) {
        MDB_val ek = expiry_key(s, expires, key, key_len);
        rc = mdb_put(s->txn, s->expiry, &ek, &none, 0);
    }
    return rc ? change_failed(s, rc, "put", err, err_size) : RV_KV_OK;
}

rv_kv_status rv_kvstore_del(rv_kvstore *s, const void *key, size_t key_len, char *err,
                            size_t err_size)
{
    if (key_len == 0 || key_len > RV_KVSTORE_MAX_KEY)
        return RV_KV_OK;
    if (rv_kvstore_begin(s, err, err_size) != 0)
        return RV_KV_ERROR;
    MDB_val k = {key_len, (void *)key};
    int kept;
    int rc = unindex(s, &k, NULL, &kept);
    if (!rc && (rc = mdb_del(s->txn, s->values, &k, NULL)) == MDB_NOTFOUND)
        rc = 0;
    return rc ? change_failed(s, rc, "delete", err, err_size) : RV_KV_OK;
}

long rv_kvstore_expire(rv_kvstore *s, int64_t now, long max, rv_kvstore_expired_cb on_expired,
                       void *opaque, char *err, size_t err_size)
{
    if (rv_kvstore_begin(s, err, err_size) != 0)
        return -1;
    MDB_cursor *c;
    int rc = mdb_cursor_open(s->txn, s->expiry, &c);
    if (rc)
        return fail(s, rc, "expire", err, err_size);
    long n = 0;
    MDB_val k, v;
    while (n < max && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 &&
           get_be64(k.mv_data) <= now) {
        MDB_val key = {k.mv_size - 8, (char *)k.mv_data + 8}, val;
        if ((rc = mdb_get(s->txn, s->values, &key, &val)) == 0 && on_expired)
            on_expired(opaque, key.mv_data, key.mv_size, (char *)val.mv_data + 8, val.mv_size - 8);
        if ((rc && rc != MDB_NOTFOUND) ||
            ((rc = mdb_del(s->txn, s->values, &key, NULL)) && rc != MDB_NOTFOUND) ||
            (rc = mdb_cursor_del(c, 0)))
            break;
        n++;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return fail(s, rc, "expire", err, err_size);
    s->expired += (uint64_t)n;
    return n;
}

long rv_kvstore_scan(rv_kvstore *s, const void *prefix, size_t prefix_len, rv_kvstore_each_cb each,
                     void *opaque, char *err, size_t err_size)
{
    if (rv_kvstore_begin(s, err, err_size) != 0)
        return -1;
    MDB_cursor *c;
    int rc = mdb_cursor_open(s->txn, s->values, &c);
    if (rc)
        return fail(s, rc, "scan", err, err_size);
    MDB_val k = {prefix_len, (void *)prefix}, v;
    long n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, prefix_len ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0 && k.mv_size >= prefix_len && memcmp(k.mv_data, prefix, prefix_len) == 0 &&
         v.mv_size >= 8;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        n++;
        if (each(opaque, k.mv_data, k.mv_size, (char *)v.mv_data + 8, v.mv_size - 8) != 0)
            break;
    }
    mdb_cursor_close(c);
    return n;
}

int rv_kvstore_mark(rv_kvstore *s, const char *name, int64_t *value)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    if (!s->txn || mdb_get(s->txn, s->marks, &k, &v) != 0 || v.mv_size != 8)
        return -1;
    *value = get_be64(v.mv_data);
    return 0;
}

rv_kv_status rv_kvstore_set_mark(rv_kvstore *s, const char *name, int64_t value, char *err,
                                 size_t err_size)
{
    if (rv_kvstore_begin(s, err, err_size) != 0)
        return RV_KV_ERROR;
    unsigned char b[8];
    put_be64(b, value);
    MDB_val k = {strlen(name), (void *)name}, v = {8, b};
    int rc = mdb_put(s->txn, s->marks, &k, &v, 0);
    return rc ? change_failed(s, rc, "mark", err, err_size) : RV_KV_OK;
}

void rv_kvstore_stats_get(rv_kvstore *s, rv_kvstore_stats *out)
{
    memset(out, 0, sizeof *out);
    out->max_bytes = s->max_bytes;
    out->evicted = s->evicted;
    out->expired = s->expired;
    MDB_txn *txn = s->txn;
    if (!txn && mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    MDB_stat st;
    if (mdb_stat(txn, s->values, &st) == 0)
        out->entries = st.ms_entries;
    out->bytes = used_bytes(s, txn);
    if (txn != s->txn)
        mdb_txn_abort(txn);
}
