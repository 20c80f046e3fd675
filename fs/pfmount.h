/* pfmount.h: what the parts of pfmount share: the mount-wide settings and
 * facts computed once at start (read-only while serving), the per-thread
 * catalog connection (fs/tdb.c) and the FUSE operations (fs/ops.c). */
#ifndef PYFARM_FS_PFMOUNT_H
#define PYFARM_FS_PFMOUNT_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>

#include "pyfarm/catalog.h"

/* Filled by main before the session starts; never written afterwards, so
 * worker threads read it without locks. */
typedef struct pfm_config {
    char *catalog;          /* absolute path (fuse_daemonize changes the cwd) */
    int catalog_fd;         /* the catalog served for the mount's lifetime */
    struct stat catalog_st; /* its identity at start (replacement is logged) */
    pf_roots roots;         /* the folders sources may come from */
    char *mountpoint;       /* absolute */
    double timeout;         /* entry, attr and negative-entry timeout, seconds */
    int verify_hash;        /* -o verify=hash: sha256 at open, source ctime pinned after */
    unsigned readahead_kb;
    int log_fd;     /* where the one-line fault messages go, or -1 */
    int log_syslog; /* background mode with stderr on a pipe: syslog */
    /* nlink of directories: 2 + subdirectories, precomputed at start when
     * ids are dense (nsub[id]); otherwise counted per call. */
    uint32_t *nsub;
    int64_t nsub_len;
    uint64_t total_bytes, nodes;
} pfm_config;

extern pfm_config pfm;

/* One catalog connection per FUSE worker thread with its statements
 * prepared once: SQLite connections are cheap, and a private connection
 * needs no mutex (opened SQLITE_OPEN_NOMUTEX). */
typedef struct pfm_db {
    sqlite3 *db;
    sqlite3_stmt *attr_id;    /* attributes by primary key */
    sqlite3_stmt *attr_child; /* attributes by tree_child (parent, name) */
    sqlite3_stmt *node_id;    /* the full node (open) */
    sqlite3_stmt *target_id;  /* symlink target */
    sqlite3_stmt *children;   /* a folder's children, by tree_child */
    sqlite3_stmt *nsub;       /* subfolder count, when not precomputed */
    char *buf;                /* read buffer, grown to the largest request */
    size_t buflen;
} pfm_db;

/* The calling thread's connection, opened on first use; NULL (and one log
 * line) if the catalog cannot be opened. */
pfm_db *pfm_db_get(void);
int pfm_db_init(void);     /* once, before any thread calls pfm_db_get */
void pfm_db_release(void); /* the calling thread's, if any (-s mode's main thread) */
/* Statements every thread prepares, for the start-up query-plan check. */
extern const char *const pfm_sql[];

/* Logs once if the catalog's path now names another file, or the file
 * served was modified in place (checked at most once a second). */
void pfm_check_catalog(void);

/* Logs "pfmount: MSG" once per key (a node id) for the mount's lifetime:
 * a broken source read by 16 processes is still one line. key < 0: always. */
void pfm_log_once(int64_t key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const struct fuse_lowlevel_ops pfm_ops;
/* Widens the mount's readahead window (sysfs); once, after INIT. */
void pfm_set_readahead(void);
/* Frees handles the kernel did not release; after the loop has ended. */
void pfm_ops_cleanup(void);

#endif
