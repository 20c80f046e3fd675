/* tdb.c: pfmount's per-thread catalog connections (each FUSE worker opens
 * its own read-only connection, to the catalog inode opened at start, and
 * prepares its statements once), the check that logs a replaced catalog,
 * and the once-per-file fault log. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pfmount.h"
#include "pyfarm/catalog.h"
#include "pyfarm/strmap.h"

#define ATTR_COLS "id, type, mode, size, mtime, parent"

/* Every statement is a lookup by primary key or a range of the
 * tree_child(parent, name) index; main checks their query plans at start. */
const char *const pfm_sql[] = {
    "SELECT " ATTR_COLS " FROM tree WHERE id=?",
    "SELECT " ATTR_COLS " FROM tree WHERE parent=? AND name=?",
    "SELECT " PF_NODE_COLS " FROM tree WHERE id=?",
    "SELECT type, target FROM tree WHERE id=?",
    "SELECT " ATTR_COLS ", name FROM tree WHERE parent=? ORDER BY name",
    "SELECT count(*) FROM tree WHERE parent=? AND type='d'",
    NULL,
};

static pthread_key_t db_key;

static void db_free(void *p) {
    pfm_db *d = p;
    if (!d)
        return;
    sqlite3_stmt *sts[] = {d->attr_id,   d->attr_child, d->node_id,
                           d->target_id, d->children,   d->nsub};
    for (size_t i = 0; i < sizeof sts / sizeof sts[0]; i++)
        sqlite3_finalize(sts[i]);
    sqlite3_close(d->db);
    free(d->buf);
    free(d);
}

int pfm_db_init(void) {
    return pthread_key_create(&db_key, db_free) == 0 ? 0 : -1;
}

void pfm_db_release(void) {
    db_free(pthread_getspecific(db_key));
    pthread_setspecific(db_key, NULL);
}

pfm_db *pfm_db_get(void) {
    pfm_db *d = pthread_getspecific(db_key);
    if (d)
        return d;
    d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    /* The inode opened at start, whatever the path names now; NOMUTEX:
     * the connection never leaves this thread. */
    int rc = pf_catalog_connect_fd(pfm.catalog_fd, 1, &d->db);
    if (rc == SQLITE_OK) {
        /* Map the file: pages are shared with the OS cache instead of being
         * copied into every thread's private page cache. */
        sqlite3_exec(d->db, "PRAGMA mmap_size=268435456", NULL, NULL, NULL);
    }
    sqlite3_stmt **sts[] = {&d->attr_id,   &d->attr_child, &d->node_id,
                            &d->target_id, &d->children,   &d->nsub};
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof sts / sizeof sts[0]; i++)
        rc = sqlite3_prepare_v3(d->db, pfm_sql[i], -1, SQLITE_PREPARE_PERSISTENT, sts[i], NULL);
    if (rc != SQLITE_OK) {
        pfm_log_once(-1, "%s: cannot open catalog in worker thread: %s", pfm.catalog,
                     d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
        db_free(d);
        return NULL;
    }
    pthread_setspecific(db_key, d);
    return d;
}

void pfm_check_catalog(void) {
    static _Atomic long last;
    static _Atomic int replaced, modified;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long prev = last;
    if (now.tv_sec == prev || !atomic_compare_exchange_strong(&last, &prev, now.tv_sec))
        return;
    struct stat p, f;
    const struct stat *s0 = &pfm.catalog_st;
    if (!replaced &&
        (stat(pfm.catalog, &p) != 0 || p.st_dev != s0->st_dev || p.st_ino != s0->st_ino)) {
        replaced = 1;
        pfm_log_once(-1,
                     "%s: the catalog file was replaced or removed; still serving the catalog "
                     "opened at start (inode %llu) until unmounted",
                     pfm.catalog, (unsigned long long)s0->st_ino);
    }
    if (!modified && fstat(pfm.catalog_fd, &f) == 0 &&
        (f.st_size != s0->st_size || f.st_mtim.tv_sec != s0->st_mtim.tv_sec ||
         f.st_mtim.tv_nsec != s0->st_mtim.tv_nsec)) {
        modified = 1;
        pfm_log_once(-1,
                     "%s: the catalog served was modified in place while mounted; lookups may "
                     "now fail with EIO (replace catalogs by rename, as pfanalyze does)",
                     pfm.catalog);
    }
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pf_strmap logged; /* node ids already reported */

void pfm_log_once(int64_t key, const char *fmt, ...) {
    if (key >= 0) {
        char k[24];
        snprintf(k, sizeof k, "%lld", (long long)key);
        pthread_mutex_lock(&log_lock);
        int seen = pf_strmap_get(&logged, k) != NULL;
        if (!seen)
            pf_strmap_put(&logged, k, (void *)1);
        pthread_mutex_unlock(&log_lock);
        if (seen)
            return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof msg - 2)
        n = (int)sizeof msg - 2;
    if (pfm.log_syslog)
        syslog(LOG_ERR, "%s", msg);
    if (pfm.log_fd >= 0) {
        /* One write per line, so lines from threads never interleave. */
        char line[2100];
        int m = snprintf(line, sizeof line, "pfmount: %.*s\n", n, msg);
        if (m > 0 && write(pfm.log_fd, line, (size_t)m) < 0) {
            /* nowhere left to report it */
        }
    }
}
