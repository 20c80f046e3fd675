/* tree.c: write the plan into the catalog's tree: folders implied by the
 * paths, files with their source's identity (size, mtime) and patch, and
 * the sha256 of every output (computed in parallel, through the same
 * content reader that pfmount and pfexport use, or taken from the per-user
 * hash cache when the source has not changed). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "pyfarm/content.h"
#include "pyfarm/hash.h"
#include "pyfarm/hashcache.h"
#include "pyfarm/parallel.h"

/* One tree file's hash work: the key its source had when looked up, and
 * the key seen around the read (kept only when the file held still). */
typedef struct hash_job {
    pf_hashkey key;
    int have_key; /* the source could be stat'ed: the cache may answer */
    int fresh;    /* hashed in this run, with a key worth keeping */
} hash_job;

typedef struct hash_ctx {
    pf_node *nodes;
    hash_job *jobs;
    atomic_size_t files_read;
    atomic_ullong bytes_read;
} hash_ctx;

static int sha_sink(void *ctx, const void *buf, size_t n) {
    return pf_sha256_update(ctx, buf, n, NULL, 0);
}

/* k may be j's own key: the patch's hash is kept across the refill */
static int stat_key(const pf_node *n, const hash_job *j, pf_hashkey *k) {
    struct stat st;
    if (stat(n->source, &st) != 0)
        return -1;
    char patch[sizeof k->patch];
    memcpy(patch, j->key.patch, sizeof patch);
    pf_hashkey_of(&st, k);
    memcpy(k->patch, patch, sizeof patch);
    return 0;
}

/* An unpatched file: hashed from one descriptor, its key taken before and
 * after the read through that descriptor. */
static int hash_source(pf_node *n, hash_job *j, char hex[65], char *err, size_t errlen) {
    int fd = open(n->source, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pf_seterr(err, errlen, "%s: %s", n->source, strerror(errno));
        return -1;
    }
    struct stat a, b;
    pf_hashkey ka, kb;
    int r = fstat(fd, &a) == 0 ? pf_sha256_fd(fd, n->source, hex, err, errlen) : -1;
    if (r == 0 && fstat(fd, &b) == 0) {
        pf_hashkey_of(&a, &ka);
        pf_hashkey_of(&b, &kb);
        j->fresh = pf_hashkey_equal(&ka, &kb);
        j->key = ka;
    } else if (r != 0 && err && !*err) {
        pf_seterr(err, errlen, "%s: %s", n->source, strerror(errno));
    }
    close(fd);
    return r;
}

/* A patched or generated file: hashed through the content reader, as
 * pfmount and pfexport will read it. */
static int hash_composed(pf_node *n, hash_job *j, char hex[65], char *err, size_t errlen) {
    pf_hashkey before, after;
    /* keyed only with the patch's own hash (set when the cache is in use) */
    int keyed = n->source && j->key.patch[0] && stat_key(n, j, &before) == 0;
    pf_sha256 s;
    if (pf_sha256_init(&s, err, errlen) != 0)
        return -1;
    if (pf_content_stream(n, sha_sink, &s, err, errlen) != 0) {
        pf_sha256_free(&s);
        return -1;
    }
    if (pf_sha256_final(&s, hex, err, errlen) != 0)
        return -1;
    if (keyed && stat_key(n, j, &after) == 0 && pf_hashkey_equal(&before, &after)) {
        j->key = before;
        j->fresh = 1;
    }
    return 0;
}

static int hash_item(void *ctx, size_t i, char *err, size_t errlen) {
    hash_ctx *h = ctx;
    pf_node *n = &h->nodes[i];
    if (n->type != 'f' || n->sha256)
        return 0; /* a folder, a link, or answered by the cache */
    char hex[65];
    int r = n->patch ? hash_composed(n, &h->jobs[i], hex, err, errlen)
                     : hash_source(n, &h->jobs[i], hex, err, errlen);
    if (r != 0)
        return -1;
    atomic_fetch_add(&h->files_read, 1);
    atomic_fetch_add(&h->bytes_read, n->size);
    n->sha256 = pf_xstrdup(hex);
    return 0;
}

/* Look every sourced file up in the hash cache (one thread: the cache's
 * connection is not shared). */
static void lookup_cached(pf_hashcache *hc, pf_node *nodes, hash_job *jobs, size_t nn) {
    for (size_t i = 0; hc && i < nn; i++) {
        pf_node *n = &nodes[i];
        if (n->type != 'f' || !n->source)
            continue;
        if (n->patch && pf_sha256_buf(n->patch, n->patch_len, jobs[i].key.patch, NULL, 0) != 0)
            continue;
        char hex[65];
        if (stat_key(n, &jobs[i], &jobs[i].key) == 0 && pf_hashcache_get(hc, &jobs[i].key, hex))
            n->sha256 = pf_xstrdup(hex);
    }
}

/* The sha256 of every file: from the per-user cache when the source has
 * not changed, else read, in parallel on every core. */
static int hash_tree(pf_node *nodes, size_t nn, char *err, size_t errlen) {
    hash_ctx h = {.nodes = nodes, .jobs = pf_xcalloc(nn ? nn : 1, sizeof(hash_job))};
    pf_hashcache *hc = pf_hashcache_open("pfanalyze");
    lookup_cached(hc, nodes, h.jobs, nn);
    int r = pf_parallel_for(nn, hash_item, &h, err, errlen);
    size_t cached = 0, files = 0;
    for (size_t i = 0; i < nn; i++) {
        if (nodes[i].type != 'f')
            continue;
        files++;
        if (r == 0 && h.jobs[i].fresh)
            pf_hashcache_put(hc, &h.jobs[i].key, nodes[i].sha256);
    }
    pf_hashcache_close(hc);
    cached = files - atomic_load(&h.files_read);
    /* for tests and benchmarks: what the cache saved */
    if (r == 0 && getenv("PYFARM_HASH_STATS"))
        fprintf(stderr, "pfanalyze: hash: %zu files, %zu read (%llu bytes), %zu from the cache\n",
                files, atomic_load(&h.files_read), atomic_load(&h.bytes_read), cached);
    free(h.jobs);
    return r;
}

/* The dependency graph, by dist path (edges recorded before programs moved
 * to libexec/ in hermetic mode keep the path the binary has now). */
static int write_deps(pf_catalog *c, pf_plan *plan, char *err, size_t errlen) {
    if (pf_catalog_exec(c, "DELETE FROM deps", err, errlen))
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO deps VALUES(?,?,?,?,?)", -1, &st, NULL) !=
        SQLITE_OK) {
        pf_seterr(err, errlen, "%s: %s", c->path, sqlite3_errmsg(c->db));
        return -1;
    }
    for (size_t i = 0; i < plan->deps.n; i++) {
        char *row = pf_xstrdup(plan->deps.v[i]), *f[5] = {0};
        char *s = row;
        for (int k = 0; k < 5; k++) {
            f[k] = s;
            char *t = s ? strchr(s, '\t') : NULL;
            if (t)
                *t = 0;
            s = t ? t + 1 : NULL;
        }
        sqlite3_reset(st);
        for (int k = 0; k < 5; k++) {
            if (f[k] && *f[k])
                sqlite3_bind_text(st, k + 1, f[k], -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, k + 1);
        }
        int rc = sqlite3_step(st);
        free(row);
        if (rc != SQLITE_DONE) {
            pf_seterr(err, errlen, "%s: %s", c->path, sqlite3_errmsg(c->db));
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp((*(pf_entry *const *)a)->dest, (*(pf_entry *const *)b)->dest);
}

int pf_tree_write(pf_catalog *c, pf_plan *plan, const pf_opts *opts, char *err, size_t errlen) {
    if (pf_catalog_exec(c, "DELETE FROM tree", err, errlen))
        return -1;
    qsort(plan->v, plan->n, sizeof *plan->v, cmp_entry);
    int64_t now = (int64_t)time(NULL);
    /* nodes: root, then folders and entries in path order */
    size_t cap = plan->n * 2 + 16, nn = 0;
    pf_node *nodes = pf_xcalloc(cap, sizeof *nodes);
    pf_strmap dirs = {0};
    nodes[nn++] = (pf_node){.id = 1,
                            .parent = 0,
                            .path = pf_xstrdup(""),
                            .name = pf_xstrdup(""),
                            .type = 'd',
                            .mode = 0755,
                            .mtime = now};
    pf_strmap_put(&dirs, "", (void *)(intptr_t)1);
    int64_t next_id = 2;
    for (size_t i = 0; i < plan->n; i++) {
        pf_entry *e = plan->v[i];
        if (pf_plan_excluded(opts, e->dest))
            continue; /* --exclude-file */
        /* parents first */
        char *p = pf_xstrdup(e->dest);
        int64_t parent = 1;
        for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
            *s = 0;
            intptr_t id = (intptr_t)pf_strmap_get(&dirs, p);
            if (!id) {
                if (nn == cap)
                    nodes = pf_xrealloc(nodes, (cap *= 2) * sizeof *nodes);
                id = (intptr_t)next_id++;
                nodes[nn++] = (pf_node){.id = id,
                                        .parent = parent,
                                        .path = pf_xstrdup(p),
                                        .name = pf_xstrdup(pf_path_basename(p)),
                                        .type = 'd',
                                        .mode = 0755,
                                        .mtime = now};
                pf_strmap_put(&dirs, p, (void *)id);
            }
            parent = id;
            *s = '/';
        }
        free(p);
        if (pf_strmap_get(&dirs, e->dest))
            continue; /* a file where a folder is needed: the folder wins */
        if (nn == cap)
            nodes = pf_xrealloc(nodes, (cap *= 2) * sizeof *nodes);
        pf_node *n = &nodes[nn];
        memset(n, 0, sizeof *n);
        n->id = next_id++;
        n->parent = parent;
        n->path = pf_xstrdup(e->dest);
        n->name = pf_xstrdup(pf_path_basename(e->dest));
        n->type = e->type;
        n->mode = e->mode;
        n->mtime = now;
        if (e->type == 'l') {
            n->target = pf_xstrdup(e->target);
            n->size = strlen(e->target);
        } else if (e->data) {
            pf_patch_builder b;
            pf_pb_init(&b);
            pf_pb_lit(&b, e->data, e->data_len);
            n->patch = pf_pb_finish(&b, &n->patch_len);
            pf_pb_free(&b);
            n->size = e->data_len;
        } else {
            struct stat st;
            if (stat(e->source, &st) != 0) {
                pf_seterr(err, errlen, "%s: traced file has vanished", e->source);
                goto fail;
            }
            n->source = pf_xstrdup(e->real ? e->real : e->source);
            n->src_size = (uint64_t)st.st_size;
            n->src_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            n->mtime = st.st_mtim.tv_sec;
            n->size = (uint64_t)st.st_size;
            if (e->patch) {
                n->patch = pf_xmalloc(e->patch_len);
                memcpy(n->patch, e->patch, e->patch_len);
                n->patch_len = e->patch_len;
                n->size = e->size;
            }
        }
        nn++;
    }
    if (hash_tree(nodes, nn, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < nn; i++) {
        pf_entry *e = i ? pf_strmap_get(&plan->by_dest, nodes[i].path) : NULL;
        const char *reason = e ? e->reason : "folder";
        const char *origin = e ? e->origin : "folder";
        if (nodes[i].type == 'd' && i)
            reason = "folder";
        if (pf_tree_add(c, &nodes[i], reason, origin) < 0) {
            pf_seterr(err, errlen, "%s: cannot add %s: %s", c->path, nodes[i].path,
                      sqlite3_errmsg(c->db));
            goto fail;
        }
    }
    if (write_deps(c, plan, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < nn; i++)
        pf_node_free(&nodes[i]);
    free(nodes);
    pf_strmap_free(&dirs);
    return 0;
fail:
    for (size_t i = 0; i < nn; i++)
        pf_node_free(&nodes[i]);
    free(nodes);
    pf_strmap_free(&dirs);
    return -1;
}
