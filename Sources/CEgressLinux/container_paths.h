// Internal to the container code: the set-up steps (reported by number through the error pipe)
// and every path init needs, built before the clone so that init only makes system calls.
#ifndef EGRESS_CONTAINER_PATHS_H
#define EGRESS_CONTAINER_PATHS_H

#include <limits.h>
#include "egress_container.h"

enum step {
    STEP_RELEASE, STEP_PRIVATE, STEP_HOSTNAME, STEP_SCRATCH, STEP_FILE, STEP_OVERLAY, STEP_BIND_ROOT, STEP_PROC,
    STEP_PROC_SYS, STEP_SYS, STEP_DEV, STEP_DEV_NODE, STEP_MASK, STEP_PIVOT, STEP_WORKDIR, STEP_FORK, STEP_STDIO,
    STEP_CAPABILITIES, STEP_NO_NEW_PRIVS, STEP_EXEC, STEP_COUNT,
};

/// The name of a step, for errors.
const char *egress_container_step_name(int step);

#define EGRESS_CONTAINER_MAX_FILES 8
#define EGRESS_CONTAINER_DEV_NODES 6

typedef struct egress_container_paths {
    char root[PATH_MAX];                 // "" for the host's file system
    char scratch[PATH_MAX];
    char upper[PATH_MAX];
    char work[PATH_MAX];
    char files[EGRESS_CONTAINER_MAX_FILES][PATH_MAX];   // absolute, inside `upper`
    char etc[PATH_MAX];
    char overlay_options[3 * PATH_MAX + 64];
    char proc[PATH_MAX];
    char proc_sys[PATH_MAX];
    char sysrq[PATH_MAX];
    char sys[PATH_MAX];
    char dev[PATH_MAX];
    char dev_staging[PATH_MAX];          // scratch/dev, moved over `dev` when ready
    char dev_nodes[EGRESS_CONTAINER_DEV_NODES][PATH_MAX];
    char dev_shm[PATH_MAX];
    char dev_links[4][PATH_MAX];
    const char *working_directory;
} egress_container_paths;

/// Fills `paths` from `spec` (ENAMETOOLONG, or EINVAL for a root or scratch path that overlayfs
/// options cannot carry: a comma or colon).
egress_error egress_container_paths_make(const egress_container_spec *spec, egress_container_paths *paths);

/// Runs in init after release: private mounts, host name, /etc overlay, /proc, /sys, /dev,
/// masks, pivot_root into the root directory and the working directory. Returns 0, or -1 with
/// errno and the failed step in `*failed_step`.
int egress_container_prepare_mounts(const egress_container_spec *spec, const egress_container_paths *paths,
                                    int *failed_step);

#endif
