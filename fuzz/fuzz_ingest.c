/* fuzz_ingest.c: the trace-record parser (analyzer/ingest.c). The parser
 * reads record files from a folder, so the input is written as one record
 * file (py-1.rec) in a private folder, ingested into an in-memory catalog
 * and loaded back as facts. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "fuzz_common.h"

static char dir[64], rec[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/pf-fuzz-rec-%d", (int)getpid());
        mkdir(dir, 0700);
        snprintf(rec, sizeof rec, "%s/py-1.rec", dir);
    }
    int fd = open(rec, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
        abort();
    pf_catalog *c;
    char err[1024];
    if (pf_catalog_create(":memory:", &c, err, sizeof err) != 0)
        abort();
    int np = 0;
    if (pf_ingest_dir(c, dir, 1, &np, err, sizeof err) == 0) {
        FUZZ_CHECK(np == 0 || np == 1, "%d processes from one record", np);
        pf_facts f;
        if (pf_facts_load(c, &f, err, sizeof err) == 0)
            pf_facts_free(&f);
    }
    pf_catalog_close(c);
    return 0;
}
