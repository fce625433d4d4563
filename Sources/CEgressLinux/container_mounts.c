// The mount namespace of a container, set up by its init: nothing here is visible outside it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container_paths.h"

static const char *const step_names[STEP_COUNT] = {
    "wait for release", "mount(/, MS_PRIVATE)", "sethostname", "mount(tmpfs, scratch)", "write /etc file",
    "mount(overlay, /etc)", "mount(bind, root)", "mount(proc)", "mount(/proc/sys, read-only)", "mount(sysfs)",
    "mount(tmpfs, /dev)", "mount(bind, /dev node)", "mask host path", "pivot_root", "chdir(working directory)",
    "fork entrypoint", "set up standard streams", "drop capabilities", "prctl(PR_SET_NO_NEW_PRIVS)",
    "exec entrypoint",
};

const char *egress_container_step_name(int step) {
    return step >= 0 && step < STEP_COUNT ? step_names[step] : "container set-up";
}

static const char *const dev_nodes[EGRESS_CONTAINER_DEV_NODES] = {"null", "zero", "full", "random", "urandom", "tty"};
static const char *const dev_links[4][2] = {
    {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
};

static int join(char *out, size_t size, const char *a, const char *b) {
    int written = snprintf(out, size, "%s%s", a, b);
    return written < 0 || (size_t)written >= size ? -1 : 0;
}

egress_error egress_container_paths_make(const egress_container_spec *spec, egress_container_paths *paths) {
    const char *root = spec->root ? spec->root : "";
    if (strpbrk(root, ",:") != NULL || strpbrk(spec->scratch_directory, ",:") != NULL) {
        return egress_fail("container paths (a comma or colon in the root or scratch directory)", EINVAL);
    }
    if (spec->file_count > EGRESS_CONTAINER_MAX_FILES) return egress_fail("container files", E2BIG);
    int failed = join(paths->root, PATH_MAX, root, "") | join(paths->scratch, PATH_MAX, spec->scratch_directory, "") |
        join(paths->upper, PATH_MAX, spec->scratch_directory, "/upper") |
        join(paths->work, PATH_MAX, spec->scratch_directory, "/work") | join(paths->etc, PATH_MAX, root, "/etc") |
        join(paths->proc, PATH_MAX, root, "/proc") | join(paths->proc_sys, PATH_MAX, root, "/proc/sys") |
        join(paths->sysrq, PATH_MAX, root, "/proc/sysrq-trigger") | join(paths->sys, PATH_MAX, root, "/sys") |
        join(paths->dev, PATH_MAX, root, "/dev") | join(paths->dev_staging, PATH_MAX, spec->scratch_directory, "/dev") |
        join(paths->dev_shm, PATH_MAX, paths->dev_staging, "/shm");
    for (size_t i = 0; i < spec->file_count; i++) {
        failed |= snprintf(paths->files[i], PATH_MAX, "%s/%s", paths->upper, spec->files[i].path) >= PATH_MAX;
    }
    for (int i = 0; i < EGRESS_CONTAINER_DEV_NODES; i++) {
        failed |= snprintf(paths->dev_nodes[i], PATH_MAX, "%s/%s", paths->dev_staging, dev_nodes[i]) >= PATH_MAX;
    }
    for (int i = 0; i < 4; i++) {
        failed |= snprintf(paths->dev_links[i], PATH_MAX, "%s/%s", paths->dev_staging, dev_links[i][0]) >= PATH_MAX;
    }
    int options = snprintf(paths->overlay_options, sizeof(paths->overlay_options), "lowerdir=%s,upperdir=%s,workdir=%s",
                           paths->etc, paths->upper, paths->work);
    if (failed || options < 0 || (size_t)options >= sizeof(paths->overlay_options)) {
        return egress_fail("container paths", ENAMETOOLONG);
    }
    paths->working_directory = spec->working_directory ? spec->working_directory : "/";
    return egress_ok();
}

// Creates the parent directories of `path` (an absolute path); the last component is left alone.
static int make_parents(const char *path) {
    char buffer[PATH_MAX];
    size_t length = strlen(path);
    if (length >= sizeof(buffer)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buffer, path, length + 1);
    for (size_t i = 1; i < length; i++) {
        if (buffer[i] != '/') continue;
        buffer[i] = 0;
        if (mkdir(buffer, 0755) != 0 && errno != EEXIST) return -1;
        buffer[i] = '/';
    }
    return 0;
}

static int write_file(const char *path, const egress_container_file *file) {
    if (make_parents(path) != 0) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, file->mode);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < file->length) {
        ssize_t n = write(fd, file->data + done, file->length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

static int make_etc(const egress_container_spec *spec, const egress_container_paths *paths, int *step) {
    *step = STEP_SCRATCH;
    if (mount("tmpfs", paths->scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) return -1;
    if (mkdir(paths->upper, 0755) != 0 || mkdir(paths->work, 0700) != 0) return -1;
    *step = STEP_FILE;
    for (size_t i = 0; i < spec->file_count; i++) {
        if (write_file(paths->files[i], &spec->files[i]) != 0) return -1;
    }
    *step = STEP_OVERLAY;
    return mount("overlay", paths->etc, "overlay", 0, paths->overlay_options);
}

static int make_proc_and_sys(const egress_container_paths *paths, int *step) {
    *step = STEP_PROC;
    if (mount("proc", paths->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return -1;
    *step = STEP_PROC_SYS;
    if (mount(paths->proc_sys, paths->proc_sys, NULL, MS_BIND, NULL) != 0) return -1;
    if (mount(NULL, paths->proc_sys, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        return -1;
    }
    if (mount("/dev/null", paths->sysrq, NULL, MS_BIND, NULL) != 0 && errno != ENOENT) return -1;
    *step = STEP_SYS;
    struct stat info;
    if (stat(paths->sys, &info) != 0) return 0;
    return mount("sysfs", paths->sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

// A fresh /dev with the usual character devices bound from the host's, and nothing else: made in
// the scratch directory (while the host's /dev is still in view), then moved over /dev.
static int make_dev(const egress_container_paths *paths, int *step) {
    *step = STEP_DEV;
    if (mkdir(paths->dev_staging, 0755) != 0) return -1;
    if (mount("tmpfs", paths->dev_staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") != 0) return -1;
    if (mkdir(paths->dev_shm, 01777) != 0) return -1;
    for (int i = 0; i < 4; i++) {
        if (symlink(dev_links[i][1], paths->dev_links[i]) != 0) return -1;
    }
    *step = STEP_DEV_NODE;
    char host[32];
    for (int i = 0; i < EGRESS_CONTAINER_DEV_NODES; i++) {
        int fd = open(paths->dev_nodes[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) return -1;
        close(fd);
        memcpy(host, "/dev/", 6);
        strncat(host, dev_nodes[i], sizeof(host) - 6);
        if (mount(host, paths->dev_nodes[i], NULL, MS_BIND, NULL) != 0) return -1;
    }
    *step = STEP_DEV;
    return mount(paths->dev_staging, paths->dev, NULL, MS_MOVE, NULL);
}

static int mask_host_paths(const egress_container_spec *spec, int *step) {
    *step = STEP_MASK;
    for (size_t i = 0; i < spec->masked_count; i++) {
        struct stat info;
        if (stat(spec->masked_paths[i], &info) != 0) continue;
        int result = S_ISDIR(info.st_mode)
            ? mount("tmpfs", spec->masked_paths[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0755")
            : mount("/dev/null", spec->masked_paths[i], NULL, MS_BIND, NULL);
        if (result != 0) return -1;
    }
    return 0;
}

// pivot_root into the root directory (not chroot, which a process keeping CAP_SYS_CHROOT could
// leave), then detach the old root.
static int enter_root(const egress_container_paths *paths, int *step) {
    *step = STEP_PIVOT;
    if (chdir(paths->root) != 0) return -1;
    if (syscall(SYS_pivot_root, ".", ".") != 0) return -1;
    if (umount2(".", MNT_DETACH) != 0) return -1;
    return chdir("/");
}

int egress_container_prepare_mounts(const egress_container_spec *spec, const egress_container_paths *paths,
                                    int *failed_step) {
    *failed_step = STEP_PRIVATE;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return -1;
    *failed_step = STEP_HOSTNAME;
    if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) != 0) return -1;
    int has_root = paths->root[0] != 0;
    if (has_root) {
        *failed_step = STEP_BIND_ROOT;
        if (mount(paths->root, paths->root, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
    }
    if (make_etc(spec, paths, failed_step) != 0 || make_proc_and_sys(paths, failed_step) != 0 ||
        make_dev(paths, failed_step) != 0) {
        return -1;
    }
    if (has_root ? enter_root(paths, failed_step) != 0 : mask_host_paths(spec, failed_step) != 0) return -1;
    *failed_step = STEP_WORKDIR;
    return chdir(paths->working_directory);
}
