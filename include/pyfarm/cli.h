/* cli.h: what every pyfarm command shares on its command line: the exit
 * statuses (one table, docs/user-guide.md "Exit statuses") and the version
 * (meson's project version, passed as PF_VERSION by meson.build). */
#ifndef PYFARM_CLI_H
#define PYFARM_CLI_H

#include <stdio.h>

#ifndef PF_VERSION /* only linters see this: meson.build always defines it */
#define PF_VERSION "unknown"
#endif

/* Exit statuses of every tool. A tool that cannot use its catalog (missing,
 * a folder, not SQLite, not a pyfarm catalog) exits PF_EXIT_USAGE before
 * doing anything, whichever tool it is. */
enum {
    PF_EXIT_OK = 0,    /* done */
    PF_EXIT_FAIL = 1,  /* the work failed (analysis, export, mount, lookup): nothing changed */
    PF_EXIT_USAGE = 2, /* bad option or value, or an unusable catalog: nothing ran */
    PF_EXIT_APP = 3,   /* pfanalyze: analysis done, the traced command failed */
    PF_EXIT_NOT_FOUND = 127, /* pfanalyze: the command to trace was not found */
};

/* `TOOL --version`: one line on stdout. */
static inline int pf_cli_version(const char *tool) {
    printf("%s (pyfarm) %s\n", tool, PF_VERSION);
    return PF_EXIT_OK;
}

#endif
