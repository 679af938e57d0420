/*
 * kvstore.h - an on-disk map of keys to values, each with an expiry time,
 * plus named 64-bit marks (a consumer's offsets, kept in the same
 * transaction as the state they produced), in LMDB (Debian's liblmdb): a
 * single memory-mapped file, copy-on-write, whole transactions or nothing
 * after a crash. A commit outlives the process at once; the machine's crash
 * may take back the last one (one sync a commit, not two: MDB_NOMETASYNC),
 * never leave half of one.
 *
 * Bounded in bytes: the file never grows past max_bytes; once the pages in
 * use pass half of that (copy-on-write needs the rest), the values soonest
 * to expire are evicted until 3/8 are in use (counted in
 * rv_kvstore_stats); a transaction that does not fit is aborted, a quarter
 * kept, and the caller told to do it again. Values are evicted by age with
 * rv_kvstore_expire. One writer: every change happens between
 * rv_kvstore_begin and rv_kvstore_commit, on one thread; no reader runs
 * beside it (the owner reads in its own transaction).
 */
#ifndef RV_KVSTORE_H
#define RV_KVSTORE_H

#include <stddef.h>
#include <stdint.h>

#define RV_KVSTORE_MAX_KEY 400 /* bytes: LMDB's key limit less the expiry index's 8 */

typedef struct rv_kvstore rv_kvstore;

/* What a change returns: done, out of room in this transaction (it was
 * aborted and room made: begin again and redo the batch), or failed
 * (err says why; the transaction was aborted). */
typedef enum { RV_KV_OK = 0, RV_KV_RETRY = 1, RV_KV_ERROR = -1 } rv_kv_status;

typedef struct rv_kvstore_stats {
    uint64_t entries;   /* values held */
    uint64_t bytes;     /* pages in use, in bytes */
    uint64_t max_bytes; /* the bound */
    uint64_t evicted;   /* values evicted for room since open */
    uint64_t expired;   /* values removed by rv_kvstore_expire since open */
} rv_kvstore_stats;

/* Opens (creating it) the store in directory dir, at most max_bytes
 * (rounded up to whole pages; a store made bigger before is refused). NULL
 * with err set. */
rv_kvstore *rv_kvstore_open(const char *dir, uint64_t max_bytes, char *err, size_t err_size);
void rv_kvstore_close(rv_kvstore *s);

int rv_kvstore_begin(rv_kvstore *s, char *err, size_t err_size);
/* Commits the open transaction (durable when it returns 0). RV_KV_RETRY
 * when it did not fit: as for a change. */
rv_kv_status rv_kvstore_commit(rv_kvstore *s, char *err, size_t err_size);
void rv_kvstore_abort(rv_kvstore *s);

/* The value of key in the open transaction: a pointer valid until the
 * next change or the transaction's end, its length and expiry; NULL when
 * absent. */
const void *rv_kvstore_get(rv_kvstore *s, const void *key, size_t key_len, size_t *len,
                           int64_t *expires);

/* Sets key's value and expiry (a time in the caller's clock, ms). */
rv_kv_status rv_kvstore_put(rv_kvstore *s, const void *key, size_t key_len, const void *value,
                            size_t len, int64_t expires, char *err, size_t err_size);
/* Removes key (absent: nothing). */
rv_kv_status rv_kvstore_del(rv_kvstore *s, const void *key, size_t key_len, char *err,
                            size_t err_size);

/* Removes every value whose expiry is <= now, at most max of them, first
 * calling on_expired (if not NULL) with each. The count removed, or -1. */
typedef void (*rv_kvstore_expired_cb)(void *opaque, const void *key, size_t key_len,
                                      const void *value, size_t len);
long rv_kvstore_expire(rv_kvstore *s, int64_t now, long max, rv_kvstore_expired_cb on_expired,
                       void *opaque, char *err, size_t err_size);

/* Calls each(opaque, key, value) for every value whose key starts with
 * prefix, in key order, in the open transaction (begun if none); each
 * returns 0 to go on. The count visited, or -1. */
typedef int (*rv_kvstore_each_cb)(void *opaque, const void *key, size_t key_len, const void *value,
                                  size_t len);
long rv_kvstore_scan(rv_kvstore *s, const void *prefix, size_t prefix_len, rv_kvstore_each_cb each,
                     void *opaque, char *err, size_t err_size);

/* A named mark, in the open transaction: 0 and *value, or -1 when absent. */
int rv_kvstore_mark(rv_kvstore *s, const char *name, int64_t *value);
rv_kv_status rv_kvstore_set_mark(rv_kvstore *s, const char *name, int64_t value, char *err,
                                 size_t err_size);

void rv_kvstore_stats_get(rv_kvstore *s, rv_kvstore_stats *out);

#endif
