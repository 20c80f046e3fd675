/* runguard.c: the traced command, and every process it starts, die with
 * pfanalyze, even by kill -9. Between the two sits a guard: a forked copy
 * of pfanalyze, child subreaper (the command's orphans are reparented to
 * it), told of pfanalyze's death by PR_SET_PDEATHSIG. Then it kills the
 * command and every process that falls to it until none is left.
 * Otherwise it only waits for the command and ends the way the command
 * ended, so that pfanalyze sees the command's own status. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyfarm/runlock.h"

#define PARENT_DIED SIGUSR2 /* the guard's PR_SET_PDEATHSIG */

static volatile sig_atomic_t g_app;         /* the command, in the guard */
static volatile sig_atomic_t g_parent_died; /* pfanalyze is gone */
static volatile sig_atomic_t g_aborted;     /* pfanalyze passed on SIGTERM or SIGHUP */

static void guard_signal(int sig) {
    pid_t app = (pid_t)g_app;
    if (sig == PARENT_DIED) {
        g_parent_died = 1;
        if (app > 0) /* wakes the guard's waitpid */
            kill(app, SIGKILL);
    } else if (app > 0) { /* SIGTERM, SIGHUP from pfanalyze */
        g_aborted = 1;
        kill(app, sig);
    }
}

/* This process's children: /proc/N/stat's ppid (the field after state). */
static int kill_children(void) {
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    pid_t self = getpid();
    const struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[k > 0 ? k : 0] = 0;
        const char *rp = strrchr(buf, ')'); /* the name may hold spaces and parens */
        char state;
        int ppid;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == self) {
            kill((pid_t)atoi(de->d_name), SIGKILL);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* pfanalyze died or the run was aborted: kill the command's processes,
 * then whatever is reparented here as they die, until no child is left. */
static void kill_everything(void) {
    for (;;) {
        kill_children();
        if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
            return;
    }
}

/* End as the command ended: its exit code, or its signal (no core file of
 * the guard's own: the command has written its own). */
static void end_like(int st) {
    if (WIFEXITED(st))
        _exit(WEXITSTATUS(st));
    int sig = WTERMSIG(st);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    raise(sig);
    _exit(128 + sig);
}

/* pfanalyze's own descriptors (close-on-exec) are not the guard's to keep:
 * the trace folder's flock must end with pfanalyze. */
static void close_own_fds(void) {
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && (fl & FD_CLOEXEC))
            close(fd);
    }
}

static void guard_main(pid_t parent) {
    static const int fwd[] = {SIGTERM, SIGHUP, PARENT_DIED};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = guard_signal; /* no SA_RESTART: waitpid returns */
    sigfillset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fwd / sizeof *fwd; i++)
        sigaction(fwd[i], &sa, NULL);
    signal(SIGINT, SIG_IGN); /* the terminal sends them to the command itself */
    signal(SIGQUIT, SIG_IGN);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_PDEATHSIG, PARENT_DIED);
    if (getppid() != parent)
        _exit(128 + SIGKILL);
}

pid_t pf_run_fork_guarded(void) {
    pid_t parent = getpid();
    pid_t guard = fork();
    if (guard != 0)
        return guard; /* pfanalyze, or -1 */
    guard_main(parent);
    pid_t self = getpid();
    pid_t app = fork();
    if (app == 0) {
        static const int sigs[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, PARENT_DIED};
        for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
            signal(sigs[i], SIG_DFL);
        /* and with the guard, should it be killed itself */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != self)
            _exit(128 + SIGKILL);
        return 0;
    }
    if (app < 0) {
        fprintf(stderr, "pfanalyze: fork: %s\n", strerror(errno));
        _exit(127);
    }
    g_app = app;
    if (g_parent_died) /* before g_app was known */
        kill(app, SIGKILL);
    close_own_fds();
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (g_parent_died) {
            kill_everything();
            _exit(128 + SIGKILL);
        }
        if (w == app) {
            if (g_aborted) /* what the command left running goes with it */
                kill_everything();
            end_like(st);
        }
        if (w < 0 && errno == ECHILD)
            _exit(127);
    }
}
