/* hashcache.h: the per-user hash cache. pfanalyze does not read a file
 * again whose identity (device, inode, size, mtime, ctime) is the one it
 * had when a previous analysis hashed it. Patched outputs are keyed on
 * their source's identity plus the sha256 of the patch.
 *
 * Where: $PYFARM_HASH_CACHE when it is an absolute path; none when it is
 * "off" or "0"; else $XDG_CACHE_HOME/pyfarm/hashes.db, else
 * ~/.cache/pyfarm/hashes.db. A SQLite file in WAL mode with a busy
 * timeout, so concurrent analyses share it safely.
 *
 * The cache only ever saves work: whatever goes wrong with it (corrupt,
 * unwritable, someone else's, locked too long) is one warning on stderr,
 * and the analysis goes on hashing everything. */
#ifndef PYFARM_HASHCACHE_H
#define PYFARM_HASHCACHE_H

#include <stdint.h>
#include <sys/stat.h>

typedef struct pf_hashkey {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    char patch[65]; /* sha256 of the patch blob; "" for a file served as is */
} pf_hashkey;

typedef struct pf_hashcache pf_hashcache;

/* The key of a stat'ed source (patch left empty). */
void pf_hashkey_of(const struct stat *st, pf_hashkey *k);
int pf_hashkey_equal(const pf_hashkey *a, const pf_hashkey *b);

/* NULL when disabled or unusable (then warned once, prefixed by tool). */
pf_hashcache *pf_hashcache_open(const char *tool);
/* 1 and hex filled on a hit with every key field equal, 0 otherwise. */
int pf_hashcache_get(pf_hashcache *hc, const pf_hashkey *k, char hex[65]);
/* Remembers hex for k (written at close, in one transaction). Keys whose
 * ctime is too recent to tell a later change apart are not kept. */
void pf_hashcache_put(pf_hashcache *hc, const pf_hashkey *k, const char *hex);
/* Writes what was put and closes; hc may be NULL. */
void pf_hashcache_close(pf_hashcache *hc);

#endif
