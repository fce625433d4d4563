// The mount namespace of a container, set up by its init: nothing here is visible outside it.
//
// The container's root is built at scratch/root, on a tmpfs private to the container, and
// pivoted into: an image (a root directory) under an overlay whose upper layer is on that tmpfs
// (writes stay private), or the host's tree bound read-only, nosuid and nodev with private tmpfs
// over /tmp, /var/tmp, /run and /root. Either way /etc gets an overlay holding Egress's files,
// and /proc, /sys and /dev are the container's own.
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
    "wait for release", "mount(/, MS_PRIVATE)", "sethostname", "mount(tmpfs, scratch)", "mount(root)",
    "write /etc file", "mount(overlay, /etc)", "mount(proc)", "harden /proc", "mount(sysfs)", "mount(tmpfs, /dev)",
    "mount(bind, /dev node)", "mount(tmpfs, writable directory)", "mask host path", "pivot_root",
    "chdir(working directory)", "fork entrypoint", "set up standard streams", "drop capabilities",
    "prctl(PR_SET_NO_NEW_PRIVS)", "install seccomp filter", "exec entrypoint",
};

const char *egress_container_step_name(int step) {
    return step >= 0 && step < STEP_COUNT ? step_names[step] : "container set-up";
}

static const char *const dev_nodes[EGRESS_CONTAINER_DEV_NODES] = {"null", "zero", "full", "random", "urandom", "tty"};
static const char *const dev_links[4][2] = {
    {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
};
// Docker's /proc hardening: entries hidden (files get /dev/null, directories an empty tmpfs)
// and entries made read-only.
static const char *const proc_entries[EGRESS_CONTAINER_PROC_ENTRIES] = {
    "kcore", "keys", "timer_list", "sched_debug", "sysrq-trigger", "acpi", "scsi", "bus", "fs", "irq",
};
static const int proc_hidden = 7;  // the first entries are hidden, the rest read-only
static const char *const writable[EGRESS_CONTAINER_WRITABLE] = {"/tmp", "/var/tmp", "/run", "/root"};

static int join(char *out, size_t size, const char *a, const char *b) {
    int written = snprintf(out, size, "%s%s", a, b);
    return written < 0 || (size_t)written >= size ? 1 : 0;
}

static int join3(char *out, size_t size, const char *a, const char *b, const char *c) {
    int written = snprintf(out, size, "%s%s%s", a, b, c);
    return written < 0 || (size_t)written >= size ? 1 : 0;
}

egress_error egress_container_paths_make(const egress_container_spec *spec, egress_container_paths *paths) {
    const char *scratch = spec->scratch_directory;
    if ((spec->root && strpbrk(spec->root, ",:") != NULL) || strpbrk(scratch, ",:") != NULL) {
        return egress_fail("container paths (a comma or colon in the root or scratch directory)", EINVAL);
    }
    if (spec->file_count > EGRESS_CONTAINER_MAX_FILES || spec->masked_count > EGRESS_CONTAINER_MAX_MASKS) {
        return egress_fail("container files and masks", E2BIG);
    }
    paths->has_image = spec->root != NULL;
    int failed = join(paths->scratch, PATH_MAX, scratch, "") | join(paths->root, PATH_MAX, scratch, "/root") |
        join(paths->root_upper, PATH_MAX, scratch, "/root-upper") | join(paths->root_work, PATH_MAX, scratch, "/root-work") |
        join(paths->upper, PATH_MAX, scratch, "/upper") | join(paths->work, PATH_MAX, scratch, "/work") |
        join(paths->etc, PATH_MAX, paths->root, "/etc") | join(paths->proc, PATH_MAX, paths->root, "/proc") |
        join(paths->sys, PATH_MAX, paths->root, "/sys") | join(paths->dev, PATH_MAX, paths->root, "/dev") |
        join(paths->dev_staging, PATH_MAX, scratch, "/dev") | join(paths->dev_shm, PATH_MAX, paths->dev_staging, "/shm");
    for (size_t i = 0; i < spec->file_count; i++) failed |= join3(paths->files[i], PATH_MAX, paths->upper, "/", spec->files[i].path);
    for (int i = 0; i < EGRESS_CONTAINER_DEV_NODES; i++) failed |= join3(paths->dev_nodes[i], PATH_MAX, paths->dev_staging, "/", dev_nodes[i]);
    for (int i = 0; i < 4; i++) failed |= join3(paths->dev_links[i], PATH_MAX, paths->dev_staging, "/", dev_links[i][0]);
    for (int i = 0; i < EGRESS_CONTAINER_PROC_ENTRIES; i++) failed |= join3(paths->proc_entries[i], PATH_MAX, paths->proc, "/", proc_entries[i]);
    for (int i = 0; i < EGRESS_CONTAINER_WRITABLE; i++) failed |= join(paths->writable[i], PATH_MAX, paths->root, writable[i]);
    paths->mask_count = spec->masked_count;
    for (size_t i = 0; i < spec->masked_count; i++) failed |= join(paths->masks[i], PATH_MAX, paths->root, spec->masked_paths[i]);
    int etc_options = snprintf(paths->overlay_options, sizeof(paths->overlay_options), "lowerdir=%s,upperdir=%s,workdir=%s",
                               paths->etc, paths->upper, paths->work);
    int root_options = snprintf(paths->root_options, sizeof(paths->root_options), "lowerdir=%s,upperdir=%s,workdir=%s",
                                spec->root ? spec->root : "", paths->root_upper, paths->root_work);
    if (failed || etc_options < 0 || (size_t)etc_options >= sizeof(paths->overlay_options) || root_options < 0 ||
        (size_t)root_options >= sizeof(paths->root_options)) {
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

static int is_directory(const char *path) {
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

static int exists(const char *path) {
    struct stat info;
    return stat(path, &info) == 0;
}

// The root at scratch/root: the image under a private overlay, or the host's tree read-only.
static int make_root(const egress_container_spec *spec, const egress_container_paths *paths, int *step) {
    *step = STEP_SCRATCH;
    if (mount("tmpfs", paths->scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1g") != 0) return -1;
    if (mkdir(paths->root, 0755) != 0 || mkdir(paths->upper, 0755) != 0 || mkdir(paths->work, 0700) != 0) return -1;
    *step = STEP_ROOT;
    if (paths->has_image) {
        if (mkdir(paths->root_upper, 0755) != 0 || mkdir(paths->root_work, 0700) != 0) return -1;
        if (mount("overlay", paths->root, "overlay", MS_NOSUID | MS_NODEV, paths->root_options) != 0) return -1;
        const char *needed[] = {paths->etc, paths->proc, paths->sys, paths->dev};
        for (int i = 0; i < 4; i++) {
            if (mkdir(needed[i], 0755) != 0 && errno != EEXIST) return -1;
        }
    } else {
        if (mount("/", paths->root, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
        struct mount_attr attributes = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
        if (mount_setattr(AT_FDCWD, paths->root, AT_RECURSIVE, &attributes, sizeof(attributes)) != 0) return -1;
    }
    *step = STEP_FILE;
    for (size_t i = 0; i < spec->file_count; i++) {
        if (write_file(paths->files[i], &spec->files[i]) != 0) return -1;
    }
    *step = STEP_OVERLAY;
    return mount("overlay", paths->etc, "overlay", MS_NOSUID | MS_NODEV, paths->overlay_options);
}

static int make_proc_and_sys(const egress_container_paths *paths, int *step) {
    *step = STEP_PROC;
    if (mount("proc", paths->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return -1;
    *step = STEP_PROC_HARDENING;
    for (int i = 0; i < EGRESS_CONTAINER_PROC_ENTRIES; i++) {
        const char *entry = paths->proc_entries[i];
        if (!exists(entry)) continue;
        int result;
        if (i < proc_hidden) {
            result = is_directory(entry) ? mount("tmpfs", entry, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")
                                         : mount("/dev/null", entry, NULL, MS_BIND, NULL);
        } else {
            result = mount(entry, entry, NULL, MS_BIND | MS_REC, NULL);
            if (result == 0) {
                struct mount_attr attributes = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
                result = mount_setattr(AT_FDCWD, entry, AT_RECURSIVE, &attributes, sizeof(attributes));
            }
        }
        if (result != 0) return -1;
    }
    char proc_sys[PATH_MAX];
    if (join(proc_sys, sizeof(proc_sys), paths->proc, "/sys") != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (mount(proc_sys, proc_sys, NULL, MS_BIND, NULL) != 0 ||
        mount(NULL, proc_sys, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        return -1;
    }
    *step = STEP_SYS;
    if (!exists(paths->sys)) return 0;
    return mount("sysfs", paths->sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

// A fresh /dev with the usual character devices bound from the host's, and nothing else: made in
// the scratch directory, then moved over the root's /dev.
static int make_dev(const egress_container_paths *paths, int *step) {
    *step = STEP_DEV;
    if (mkdir(paths->dev_staging, 0755) != 0) return -1;
    if (mount("tmpfs", paths->dev_staging, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64m") != 0) return -1;
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
        if (join(host, sizeof(host), "/dev/", dev_nodes[i]) != 0) return -1;
        if (mount(host, paths->dev_nodes[i], NULL, MS_BIND, NULL) != 0) return -1;
    }
    *step = STEP_DEV;
    return mount(paths->dev_staging, paths->dev, NULL, MS_MOVE, NULL);
}

// Over the read-only host tree: private, writable /tmp, /var/tmp, /run (so the host's Unix
// sockets there are out of reach) and /root; and the masked host paths hidden.
static int make_host_tree_private(const egress_container_paths *paths, int *step) {
    *step = STEP_WRITABLE;
    for (int i = 0; i < EGRESS_CONTAINER_WRITABLE; i++) {
        if (!is_directory(paths->writable[i])) continue;
        const char *options = i < 2 ? "mode=1777" : "mode=0755";
        if (mount("tmpfs", paths->writable[i], "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) return -1;
    }
    *step = STEP_MASK;
    for (size_t i = 0; i < paths->mask_count; i++) {
        if (!exists(paths->masks[i])) continue;
        int result = is_directory(paths->masks[i])
            ? mount("tmpfs", paths->masks[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0755")
            : mount("/dev/null", paths->masks[i], NULL, MS_BIND, NULL);
        if (result != 0) return -1;
    }
    return 0;
}

// pivot_root into the root (not chroot, which a process keeping CAP_SYS_CHROOT could leave),
// then detach the old root.
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
    if (make_root(spec, paths, failed_step) != 0 || make_proc_and_sys(paths, failed_step) != 0 ||
        make_dev(paths, failed_step) != 0) {
        return -1;
    }
    if (!paths->has_image && make_host_tree_private(paths, failed_step) != 0) return -1;
    if (enter_root(paths, failed_step) != 0) return -1;
    *failed_step = STEP_WORKDIR;
    return chdir(paths->working_directory);
}
