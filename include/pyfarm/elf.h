/* elf.h: the ELF model. Reading what the loader needs to know about a
 * binary (its dynamic section and version needs) and computing the patch
 * that rewrites it, as extents over the untouched source (extents.h).
 * The graph and tree only see this model, so a Mach-O backend can sit
 * beside it (macho.h, later) with the same shape. */
#ifndef PYFARM_ELF_H
#define PYFARM_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "pyfarm/util.h"

typedef struct pf_elf_info {
    int elfclass; /* ELFCLASS32 / ELFCLASS64 */
    int machine;  /* e_machine */
    int osabi;
    int type;         /* ET_EXEC / ET_DYN */
    int has_dynamic;  /* 0 for static executables */
    int is_pie;       /* ET_DYN with PT_INTERP, or DF_1_PIE */
    char *interp;     /* PT_INTERP or NULL */
    char *soname;     /* DT_SONAME or NULL */
    pf_strv needed;   /* DT_NEEDED in order */
    char *rpath;      /* DT_RPATH raw (with $ORIGIN unexpanded) or NULL */
    char *runpath;    /* DT_RUNPATH raw or NULL */
    uint64_t flags_1; /* DT_FLAGS_1 (DF_1_NODEFLIB matters to the resolver) */
    /* Newest GLIBC_x.y this file needs (from DT_VERNEED), as "2.34", or
     * NULL when it needs none. Also every (file, version) need. */
    char *max_glibc;
    pf_strv verneed; /* entries "libc.so.6 GLIBC_2.34" */
    int has_verdef;
} pf_elf_info;

/* 1 = parsed ELF, 0 = not an ELF file (info untouched), -1 = error
 * (unreadable or corrupt ELF; err names the file and the reason). */
int pf_elf_read(const char *path, pf_elf_info *info, char *err, size_t errlen);
void pf_elf_info_free(pf_elf_info *info);

/* Compare two glibc version strings ("2.9" < "2.34"). */
int pf_glibc_vercmp(const char *a, const char *b);

/* What to change. Every field is optional. */
typedef struct pf_elf_edit {
    const char *rpath;              /* new DT_RPATH; removes DT_RUNPATH. "" removes both */
    int set_rpath;                  /* apply rpath above */
    const char *soname;             /* new DT_SONAME (only if one exists; NULL or "": kept) */
    const char *const *needed_from; /* DT_NEEDED renames, parallel arrays */
    const char *const *needed_to;
    size_t n_renames;
} pf_elf_edit;

/* Compute the patch (an extents blob, see extents.h) that turns the file at
 * path into the edited file. The source is never written. Technique
 * (docs/decisions/004-elf-patch-appended-segment.md): the original bytes stay
 * in place; a new string table (and the dynamic array, when the old one has
 * no room) go into a new PT_LOAD appended at the end; the program header
 * table grows into unused bytes after it or moves into that PT_LOAD, so no
 * program header (no note) is given up; section headers, version records and
 * symbols follow, so eu-elflint stays clean. Repeated DT_NEEDED entries are
 * renamed once and deduped. A file whose edited structures overlap is refused.
 * Returns 0, or -1 with err set. *blob NULL when nothing changes. */
int pf_elf_patch(const char *path, const pf_elf_edit *edit, uint8_t **blob, size_t *blob_len,
                 uint64_t *out_size, char *err, size_t errlen);

#endif
