/* tdb.c: pfmount's per-thread catalog connections (each FUSE worker opens
 * its own read-only connection and prepares its statements once) and the
 * once-per-file fault log. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
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
    /* NOMUTEX: the connection never leaves this thread. */
    int rc = sqlite3_open_v2(pfm.catalog, &d->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(d->db, 10000);
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
