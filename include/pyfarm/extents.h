/* extents.h: the patch format. A patched file is described, never stored,
 * as an ordered list of extents that tile the output: "copy LEN bytes from
 * the source at SRC_OFF" or "emit these literal bytes". A 500 MB library
 * whose RPATH changed costs the catalog a few kilobytes.
 *
 * Blob layout (little-endian), stored in catalog column tree.patch:
 *   "PFX1" | u64 out_size | u32 count | count x { u8 kind | u64 len |
 *   kind 0 (copy): u64 src_off | kind 1 (literal): len bytes }
 */
#ifndef PYFARM_EXTENTS_H
#define PYFARM_EXTENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyfarm/util.h"

enum { PF_EXT_COPY = 0, PF_EXT_LIT = 1 };

typedef struct pf_extent {
    uint64_t out_off; /* where this extent starts in the output */
    uint64_t len;
    uint64_t src_off;   /* PF_EXT_COPY only */
    const uint8_t *lit; /* PF_EXT_LIT only: points into the decoded blob */
    int kind;
} pf_extent;

typedef struct pf_patch {
    pf_extent *v;
    size_t n;
    uint64_t size; /* output size */
    uint8_t *blob; /* owned copy of the encoded blob; literals point here */
} pf_patch;

/* Builder: append extents in output order; adjacent copies merge. */
typedef struct pf_patch_builder {
    pf_buf body;
    uint32_t count;
    uint64_t size;
    int last_kind;
    uint64_t last_src_end;
    size_t last_len_pos; /* offset of the last extent's len field in body */
} pf_patch_builder;
void pf_pb_init(pf_patch_builder *b);
void pf_pb_copy(pf_patch_builder *b, uint64_t src_off, uint64_t len);
void pf_pb_lit(pf_patch_builder *b, const void *data, uint64_t len);
/* Returns a malloc'd blob; the builder is reset. */
uint8_t *pf_pb_finish(pf_patch_builder *b, size_t *blob_len);
void pf_pb_free(pf_patch_builder *b);

/* A replacement of [off, off+len) of a source (the ELF patcher builds its
 * patches from these and an appended block). */
typedef struct pf_overlay {
    uint64_t off;
    uint64_t len;
    const uint8_t *data;
} pf_overlay;

int pf_patch_decode(const void *blob, size_t len, pf_patch *out, char *err, size_t errlen);
void pf_patch_free(pf_patch *p);

/* Read [off, off+len) of the output, pulling copies from src_fd with
 * pread. Returns bytes read (short only at EOF) or -1 with errno set
 * (EIO when the source is shorter than the patch expects). */
ssize_t pf_patch_pread(const pf_patch *p, int src_fd, void *buf, size_t len, uint64_t off);

#endif
