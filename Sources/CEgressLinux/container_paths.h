// Internal to the container code: the set-up steps (reported by number through the error pipe)
// and every path init needs, built before the clone so that init only makes system calls.
#ifndef EGRESS_CONTAINER_PATHS_H
#define EGRESS_CONTAINER_PATHS_H

#include <limits.h>
#include "egress_container.h"

enum step {
    STEP_RELEASE, STEP_PRIVATE, STEP_HOSTNAME, STEP_SCRATCH, STEP_ROOT, STEP_FILE, STEP_OVERLAY, STEP_PROC,
    STEP_PROC_HARDENING, STEP_SYS, STEP_DEV, STEP_DEV_NODE, STEP_WRITABLE, STEP_MASK, STEP_PIVOT, STEP_WORKDIR,
    STEP_FORK, STEP_STDIO, STEP_CAPABILITIES, STEP_NO_NEW_PRIVS, STEP_SECCOMP, STEP_EXEC, STEP_COUNT,
};

/// The name of a step, for errors.
const char *egress_container_step_name(int step);

#define EGRESS_CONTAINER_MAX_FILES 8
#define EGRESS_CONTAINER_MAX_MASKS 16
#define EGRESS_CONTAINER_DEV_NODES 6
#define EGRESS_CONTAINER_PROC_ENTRIES 10
#define EGRESS_CONTAINER_WRITABLE 4

typedef struct egress_container_paths {
    int has_image;                        // a root directory (an image) was given
    char scratch[PATH_MAX];
    char root[PATH_MAX];                  // scratch/root: the container's root, pivoted into
    char root_options[3 * PATH_MAX + 64]; // the image overlay: lower = image, upper/work in scratch
    char root_upper[PATH_MAX];
    char root_work[PATH_MAX];
    char upper[PATH_MAX];                 // the /etc overlay's layers
    char work[PATH_MAX];
    char files[EGRESS_CONTAINER_MAX_FILES][PATH_MAX];   // absolute, inside `upper`
    char etc[PATH_MAX];
    char overlay_options[3 * PATH_MAX + 64];
    char proc[PATH_MAX];
    char proc_entries[EGRESS_CONTAINER_PROC_ENTRIES][PATH_MAX];
    char sys[PATH_MAX];
    char dev[PATH_MAX];
    char dev_staging[PATH_MAX];           // scratch/dev, moved over `dev` when ready
    char dev_nodes[EGRESS_CONTAINER_DEV_NODES][PATH_MAX];
    char dev_shm[PATH_MAX];
    char dev_links[4][PATH_MAX];
    char writable[EGRESS_CONTAINER_WRITABLE][PATH_MAX];  // private tmpfs over the read-only host tree
    char masks[EGRESS_CONTAINER_MAX_MASKS][PATH_MAX];
    size_t mask_count;
    const char *working_directory;
} egress_container_paths;

/// Fills `paths` from `spec` (ENAMETOOLONG; E2BIG for too many files or masks; EINVAL for an
/// image or scratch path that overlayfs options cannot carry: a comma or colon).
egress_error egress_container_paths_make(const egress_container_spec *spec, egress_container_paths *paths);

/// Runs in init after release: private mounts, host name, the root (the image under a private
/// overlay, or the host's tree read-only with private /tmp, /var/tmp, /run and /root), the /etc
/// overlay, /proc, /sys, /dev, masks, pivot_root and the working directory. Returns 0, or -1
/// with errno and the failed step in `*failed_step`.
int egress_container_prepare_mounts(const egress_container_spec *spec, const egress_container_paths *paths,
                                    int *failed_step);

/// Init's ends of the channels to this process: the release (a socket pair), the error report
/// and the wait status (pipes).
typedef struct egress_init_pipes {
    int release_fd, error_fd, status_fd;
} egress_init_pipes;

/// The cloned child's whole life (container_init.c): never returns.
__attribute__((noreturn)) void egress_container_run_init(const egress_container_spec *spec,
                                                         const egress_container_paths *paths, egress_init_pipes pipes);

/// Installs the entrypoint's seccomp filter (after PR_SET_NO_NEW_PRIVS): new user namespaces
/// (unshare, clone with CLONE_NEWUSER) and the kernel keyrings (keyctl, add_key, request_key)
/// are refused with EPERM, clone3 with ENOSYS (so C libraries fall back to clone, whose flags a
/// filter can see). Returns 0 or -1 with errno.
int egress_container_install_seccomp(void);

#endif
