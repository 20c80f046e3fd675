/* runlock.h: how a run of pfanalyze or pfexport keeps other runs' work and
 * cleans up after itself. A lock beside the catalog serializes the runs
 * that replace it; each temporary carries its owner's pid in its name and
 * an flock for its owner's lifetime, so that a later run can tell a dead
 * run's leftovers (removed) from a live run's files (never touched); and a
 * signal removes the temporaries before the process dies with it. */
#ifndef PYFARM_RUNLOCK_H
#define PYFARM_RUNLOCK_H

#include <stddef.h>
#include <sys/types.h>

/* SIGINT, SIGTERM, SIGHUP and SIGQUIT remove the registered temporaries,
 * then kill the process with the same signal; exit() removes them too.
 * Call once, early, before any temporary exists. */
void pf_run_signals_install(void);

/* The traced command: like fork(), 0 in the command's process, else the
 * pid of a guard (lib/runguard.c) that ends as the command ends. If this
 * process dies, even by kill -9, the command and every process it started
 * are killed. While it runs (child_started .. child_ended), SIGTERM and
 * SIGHUP are forwarded to it, and SIGINT and SIGQUIT left to it (the
 * terminal sends them to it as well); a forwarded signal takes effect in
 * pf_run_child_ended(). */
pid_t pf_run_fork_guarded(void);
void pf_run_child_started(pid_t pid);
void pf_run_child_ended(void);

/* A temporary removed on exit or a signal; with sqlite, its -journal, -wal
 * and -shm too. pf_run_hold also takes an flock on it (file or folder)
 * that marks it as a live run's until this process ends. */
int pf_run_cleanup_add(const char *path, int sqlite);
int pf_run_hold(const char *path, char *err, size_t errlen);

/* Remove TARGET.tmp-PID (with SQLite's side files) and TARGET.old-PID left
 * by dead processes: the pid is not running and nobody holds the flock.
 * Owned by this user, regular files or folders only. With tool, one note
 * line on stderr names what was removed. Returns the number removed. */
int pf_run_clean_stale(const char *target, const char *tool);

/* The lock of TARGET (TARGET.lock, removed when dropped): waits while
 * another run holds it, saying so once on stderr when tool is given. Under
 * the lock, the stale temporaries of TARGET are cleaned. */
typedef struct pf_runlock {
    int fd;
    char *path;
} pf_runlock;
int pf_runlock_take(const char *target, const char *tool, pf_runlock *lk, char *err, size_t errlen);
void pf_runlock_drop(pf_runlock *lk);

/* A fresh trace folder $TMPDIR/pyfarm-trace-PID-XXXXXX (/tmp without
 * TMPDIR), held and removed on exit; the trace folders of dead runs are
 * removed first. With PYFARM_KEEP_TRACE set it is named pyfarm-trace-keep-*
 * and left alone by everyone. The string belongs to this module. */
const char *pf_run_trace_dir(const char *tool, char *err, size_t errlen);

/* Messages name the user's path: every tmp in err becomes user. */
void pf_run_unalias(char *err, size_t errlen, const char *tmp, const char *user);

#endif
