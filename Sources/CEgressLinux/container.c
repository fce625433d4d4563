// Containers: an init process cloned into new pid, mount, network, UTS and IPC namespaces (see
// container_init.c for what it does), on one long-lived thread, and the calls that release,
// signal, wait for and close it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "CEgressLinux.h"
#include "container_paths.h"

// MARK: Cloning on one long-lived thread

typedef struct clone_job {
    const egress_container_spec *spec;
    const egress_container_paths *paths;
    egress_init_pipes child;
    pid_t pid;
    int pidfd;
    int netns_fd;
    int code;
    int done;
} clone_job;

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_changed = PTHREAD_COND_INITIALIZER;
static clone_job *pending_job;
static pthread_once_t cloner_once = PTHREAD_ONCE_INIT;
static int cloner_error;

static void run_clone(clone_job *job) {
    int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD | SIGCHLD;
    int pidfd = -1;
    pid_t pid = (pid_t)syscall(SYS_clone, flags, 0, &pidfd, 0, 0);
    if (pid == 0) egress_container_run_init(job->spec, job->paths, job->child);
    job->pid = pid;
    job->pidfd = pidfd;
    job->code = pid < 0 ? errno : 0;
    if (pid < 0) return;
    // Opened before init can end, so it is init's namespace even if the pid is reused later.
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    job->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (job->netns_fd < 0) job->code = errno;
}

// The parent-death signal of a container's init fires when the thread that cloned it ends, so
// all clones happen on this thread, which lives as long as the process.
static void *cloner(void *unused) {
    (void)unused;
    pthread_mutex_lock(&job_lock);
    for (;;) {
        while (pending_job == NULL) pthread_cond_wait(&job_changed, &job_lock);
        clone_job *job = pending_job;
        pending_job = NULL;
        run_clone(job);
        job->done = 1;
        pthread_cond_broadcast(&job_changed);
    }
    return NULL;
}

static void start_cloner(void) {
    pthread_t thread;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    cloner_error = pthread_create(&thread, NULL, cloner, NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (cloner_error == 0) pthread_detach(thread);
}

static egress_error clone_on_cloner(clone_job *job) {
    pthread_once(&cloner_once, start_cloner);
    if (cloner_error != 0) return egress_fail("pthread_create(container cloner)", cloner_error);
    pthread_mutex_lock(&job_lock);
    while (pending_job != NULL) pthread_cond_wait(&job_changed, &job_lock);
    pending_job = job;
    pthread_cond_broadcast(&job_changed);
    while (!job->done) pthread_cond_wait(&job_changed, &job_lock);
    pthread_mutex_unlock(&job_lock);
    return job->code == 0 ? egress_ok() : egress_fail("clone(container namespaces)", job->code);
}

// MARK: API

static egress_error create_with_paths(const egress_container_spec *spec, const egress_container_paths *paths,
                                      egress_container *out) {
    int release[2], errors[2], status[2];
    // A socket pair, not a pipe: the release is sent with MSG_NOSIGNAL, so an init that died
    // before it (killed, or failed to set up) is an EPIPE error here, not a SIGPIPE that would
    // end the whole host process.
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, release) != 0) return egress_fail("socketpair", errno);
    if (pipe2(errors, O_CLOEXEC) != 0) {
        int code = errno;
        close(release[0]);
        close(release[1]);
        return egress_fail("pipe2", code);
    }
    if (pipe2(status, O_CLOEXEC) != 0) {
        int code = errno;
        close(release[0]);
        close(release[1]);
        close(errors[0]);
        close(errors[1]);
        return egress_fail("pipe2", code);
    }
    clone_job job = {spec, paths, {release[0], errors[1], status[1]}, 0, -1, -1, 0, 0};
    egress_error error = clone_on_cloner(&job);
    close(release[0]);
    close(errors[1]);
    close(status[1]);
    out->pid = job.pid;
    out->pidfd = job.pidfd;
    out->netns_fd = job.netns_fd;
    out->release_fd = release[1];
    out->error_fd = errors[0];
    out->status_fd = status[0];
    if (error.code != 0 && job.pid > 0) {
        // Cloned, but its namespace could not be opened: end it; nothing else happened.
        syscall(SYS_pidfd_send_signal, job.pidfd, SIGKILL, NULL, 0);
        int ignored;
        waitpid(job.pid, &ignored, 0);
    }
    if (error.code != 0) {
        egress_container_close(out);
        return error;
    }
    return egress_ok();
}

egress_error egress_container_create(const egress_container_spec *spec, egress_container *out) {
    egress_container_paths *paths = calloc(1, sizeof(*paths));
    if (paths == NULL) return egress_fail("calloc(container paths)", ENOMEM);
    egress_error error = egress_container_paths_make(spec, paths);
    if (error.code == 0) error = create_with_paths(spec, paths, out);
    free(paths);
    return error;
}

// Reads `size` bytes that init wrote to `*fd` (a report it writes whole, or not at all: it ended
// first), then closes `*fd` and sets it to -1. Returns whether the whole record came.
static int read_record_and_close(int *fd, void *record, size_t size) {
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(*fd, (char *)record + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(*fd);
    *fd = -1;
    return got == size;
}

egress_error egress_container_start(egress_container *container) {
    char go = 1;
    ssize_t written = send(container->release_fd, &go, 1, MSG_NOSIGNAL);
    int write_errno = errno;
    close(container->release_fd);
    container->release_fd = -1;
    if (written != 1) {
        close(container->error_fd);
        container->error_fd = -1;
        return egress_fail(egress_container_step_name(STEP_RELEASE), write_errno);
    }
    int record[2];
    int complete = read_record_and_close(&container->error_fd, record, sizeof(record));
    if (!complete) return egress_ok();
    return egress_fail(egress_container_step_name(record[0]), record[1]);
}

int egress_container_wait(egress_container *container, int *status) {
    int value = 0;
    int complete = read_record_and_close(&container->status_fd, &value, sizeof(value));
    int ignored;
    while (waitpid(container->pid, &ignored, 0) < 0 && errno == EINTR) {}
    if (!complete) return -1;
    *status = value;
    return 0;
}

egress_error egress_container_signal(int pidfd, int sig) {
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) != 0) return egress_fail("pidfd_send_signal", errno);
    return egress_ok();
}

void egress_container_close(egress_container *container) {
    int *fds[] = {&container->release_fd, &container->error_fd, &container->status_fd, &container->pidfd,
                  &container->netns_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
}
