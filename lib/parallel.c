/* parallel.c: a work-sharing loop over an atomic index (hashing every file
 * of a tree, writing every file of an export). */
#include "pyfarm/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "pyfarm/util.h"

typedef struct pool {
    size_t n;
    pf_item_fn fn;
    void *ctx;
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    char err[PF_ERRLEN];
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    char err[PF_ERRLEN];
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n || atomic_load(&p->failed))
            return NULL;
        if (p->fn(p->ctx, i, err, sizeof err) != 0) {
            pthread_mutex_lock(&p->lock);
            if (!atomic_exchange(&p->failed, 1))
                snprintf(p->err, sizeof p->err, "%s", err);
            pthread_mutex_unlock(&p->lock);
        }
    }
}

int pf_parallel_for(size_t n, pf_item_fn fn, void *ctx, char *err, size_t errlen) {
    pool p = {.n = n, .fn = fn, .ctx = ctx};
    pthread_mutex_init(&p.lock, NULL);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = ncpu < 2 ? 2 : ncpu > 8 ? 8 : (int)ncpu; /* two overlap I/O even on one core */
    pthread_t th[8];
    int started = 0;
    for (int t = 0; t < nt; t++)
        if (pthread_create(&th[t], NULL, worker, &p) == 0)
            started++;
    if (!started)
        worker(&p);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&p.lock);
    if (p.failed) {
        pf_seterr(err, errlen, "%s", p.err);
        return -1;
    }
    return 0;
}
