/* hashcache.c: the per-user hash cache (hashcache.h): where it lives, the
 * checks that it is ours, and all of its SQL. */
#include "pyfarm/hashcache.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pyfarm/util.h"

#define SCHEMA_VERSION 1
#define BUSY_MS 15000
/* A change made within this long of a hash being taken could leave the
 * ctime as it was (timestamps come from a coarse clock): such keys are not
 * kept (the "racily clean" case of git's index). */
#define RACY_NS 1000000000LL

struct pf_hashcache {
    sqlite3 *db;
    char *path;
    const char *tool;
    sqlite3_stmt *get, *del, *put;
    int in_tx;
    int64_t start_ns;
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS hashes(dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
    " patch TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " ctime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    " PRIMARY KEY(dev, ino, patch)) WITHOUT ROWID";

void pf_hashkey_of(const struct stat *st, pf_hashkey *k) {
    memset(k, 0, sizeof *k);
    k->dev = (uint64_t)st->st_dev;
    k->ino = (uint64_t)st->st_ino;
    k->size = (uint64_t)st->st_size;
    k->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    k->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

int pf_hashkey_equal(const pf_hashkey *a, const pf_hashkey *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
           strcmp(a->patch, b->patch) == 0;
}

static int is_hex64(const unsigned char *s) {
    size_t i = 0;
    for (; s && s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s && i == 64;
}

/* The one warning: after it the cache is not used again in this run. */
static void give_up(pf_hashcache *hc, const char *why) {
    fprintf(stderr, "%s: warning: hash cache %s: %s; going on without it\n", hc->tool, hc->path,
            why);
    sqlite3_finalize(hc->get);
    sqlite3_finalize(hc->del);
    sqlite3_finalize(hc->put);
    hc->get = hc->del = hc->put = NULL;
    sqlite3_close(hc->db);
    hc->db = NULL;
}

static char *default_path(void) {
    const char *v = getenv("PYFARM_HASH_CACHE");
    if (v && (!*v || strcmp(v, "off") == 0 || strcmp(v, "0") == 0))
        return NULL;
    if (v && v[0] == '/')
        return pf_xstrdup(v);
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && x[0] == '/')
        return pf_xasprintf("%s/pyfarm/hashes.db", x);
    const char *home = getenv("HOME");
    if (!home || home[0] != '/') {
        const struct passwd *pw = getpwuid(geteuid());
        home = pw ? pw->pw_dir : NULL;
    }
    return home && home[0] == '/' ? pf_xasprintf("%s/.cache/pyfarm/hashes.db", home) : NULL;
}

/* The folder and the file must be ours and real (not links), so another
 * user cannot hand us hashes; a new file is created private. */
static const char *check_owner(const char *path) {
    char *dir = pf_xstrdup(path);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    const char *why = NULL;
    struct stat st;
    if (*dir && pf_mkdirs(dir, 0700) != 0)
        why = strerror(errno);
    else if (*dir && lstat(dir, &st) != 0)
        why = strerror(errno);
    else if (*dir && (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()))
        why = "its folder is not a folder of this user";
    free(dir);
    if (why)
        return why;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == ELOOP ? "is a symbolic link" : strerror(errno);
    int bad = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid();
    close(fd);
    return bad ? "is not a file of this user" : NULL;
}

static const char *setup_db(pf_hashcache *hc) {
    if (sqlite3_open_v2(hc->path, &hc->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return hc->db ? sqlite3_errmsg(hc->db) : "cannot open";
    sqlite3_busy_timeout(hc->db, BUSY_MS);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(hc->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return sqlite3_errmsg(hc->db);
    }
    int version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version != 0 && version != SCHEMA_VERSION)
        return "written by another version of pyfarm";
    /* WAL: readers never wait for the writer, one writer at a time; a
     * power cut may lose the last run's entries, never corrupt the file */
    if (sqlite3_exec(hc->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(hc->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(hc->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        return sqlite3_errmsg(hc->db);
    if (version == 0 &&
        sqlite3_exec(hc->db, "PRAGMA user_version=1", NULL, NULL, NULL) != SQLITE_OK)
        return sqlite3_errmsg(hc->db);
    if (sqlite3_prepare_v2(hc->db,
                           "SELECT size, mtime_ns, ctime_ns, sha256 FROM hashes"
                           " WHERE dev=? AND ino=? AND patch=?",
                           -1, &hc->get, NULL) != SQLITE_OK)
        return sqlite3_errmsg(hc->db);
    return NULL;
}

pf_hashcache *pf_hashcache_open(const char *tool) {
    char *path = default_path();
    if (!path)
        return NULL;
    pf_hashcache *hc = pf_xcalloc(1, sizeof *hc);
    hc->path = path;
    hc->tool = tool;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    hc->start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    const char *why = check_owner(path);
    char msg[512];
    if (!why) {
        why = setup_db(hc);
        if (why) { /* the message lives in the connection that give_up closes */
            snprintf(msg, sizeof msg, "%s", why);
            why = msg;
        }
    }
    if (why) {
        give_up(hc, why);
        pf_hashcache_close(hc);
        return NULL;
    }
    return hc;
}

static void bind_key(sqlite3_stmt *st, const pf_hashkey *k) {
    sqlite3_bind_int64(st, 1, (sqlite3_int64)k->dev);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)k->ino);
    sqlite3_bind_text(st, 3, k->patch, -1, SQLITE_STATIC);
}

int pf_hashcache_get(pf_hashcache *hc, const pf_hashkey *k, char hex[65]) {
    if (!hc || !hc->db)
        return 0;
    sqlite3_reset(hc->get);
    bind_key(hc->get, k);
    int rc = sqlite3_step(hc->get);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW) {
        give_up(hc, sqlite3_errmsg(hc->db));
        return 0;
    }
    /* never trusted unless every field of the key is the same */
    const unsigned char *h = sqlite3_column_text(hc->get, 3);
    int hit = (uint64_t)sqlite3_column_int64(hc->get, 0) == k->size &&
              sqlite3_column_int64(hc->get, 1) == k->mtime_ns &&
              sqlite3_column_int64(hc->get, 2) == k->ctime_ns && is_hex64(h);
    if (hit)
        memcpy(hex, h, 65);
    sqlite3_reset(hc->get);
    return hit;
}

static int prepare_put(pf_hashcache *hc) {
    if (!hc->put &&
        (sqlite3_prepare_v2(hc->db, "DELETE FROM hashes WHERE dev=? AND ino=? AND ctime_ns<>?", -1,
                            &hc->del, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(hc->db, "INSERT OR REPLACE INTO hashes VALUES(?,?,?,?,?,?,?)", -1,
                            &hc->put, NULL) != SQLITE_OK))
        return -1;
    if (!hc->in_tx) {
        if (sqlite3_exec(hc->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return -1;
        hc->in_tx = 1;
    }
    return 0;
}

void pf_hashcache_put(pf_hashcache *hc, const pf_hashkey *k, const char *hex) {
    if (!hc || !hc->db || k->ctime_ns >= hc->start_ns - RACY_NS)
        return;
    if (!is_hex64((const unsigned char *)hex))
        return; /* nothing worth keeping */
    if (prepare_put(hc) != 0) {
        give_up(hc, sqlite3_errmsg(hc->db));
        return;
    }
    /* a changed file replaces what was known of its inode */
    sqlite3_reset(hc->del);
    sqlite3_bind_int64(hc->del, 1, (sqlite3_int64)k->dev);
    sqlite3_bind_int64(hc->del, 2, (sqlite3_int64)k->ino);
    sqlite3_bind_int64(hc->del, 3, k->ctime_ns);
    sqlite3_reset(hc->put);
    bind_key(hc->put, k);
    sqlite3_bind_int64(hc->put, 4, (sqlite3_int64)k->size);
    sqlite3_bind_int64(hc->put, 5, k->mtime_ns);
    sqlite3_bind_int64(hc->put, 6, k->ctime_ns);
    sqlite3_bind_text(hc->put, 7, hex, 64, SQLITE_STATIC);
    if (sqlite3_step(hc->del) != SQLITE_DONE || sqlite3_step(hc->put) != SQLITE_DONE)
        give_up(hc, sqlite3_errmsg(hc->db));
}

void pf_hashcache_close(pf_hashcache *hc) {
    if (!hc)
        return;
    if (hc->db && hc->in_tx && sqlite3_exec(hc->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        give_up(hc, sqlite3_errmsg(hc->db));
    if (hc->db) {
        sqlite3_finalize(hc->get);
        sqlite3_finalize(hc->del);
        sqlite3_finalize(hc->put);
        sqlite3_close(hc->db);
    }
    free(hc->path);
    free(hc);
}
