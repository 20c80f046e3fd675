/* parallel.h: run fn(ctx, i) for i in [0, n) on a small pool of threads
 * (as many as cores, 2 to 8). The first failure stops the rest and its
 * one-line error is returned. Items must be independent. */
#ifndef PYFARM_PARALLEL_H
#define PYFARM_PARALLEL_H

#include <stddef.h>

typedef int (*pf_item_fn)(void *ctx, size_t i, char *err, size_t errlen);
int pf_parallel_for(size_t n, pf_item_fn fn, void *ctx, char *err, size_t errlen);

#endif
