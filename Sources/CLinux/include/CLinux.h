#ifndef CLINUX_H
#define CLINUX_H

/// Non-variadic wrappers over Linux calls Swift cannot call directly (prctl is variadic).

/// prctl(PR_SET_DUMPABLE, value): 0 forbids core dumps and ptrace attach by other processes of the
/// same user, as ssh-agent does. Returns 0 or -1 with errno set.
int clinux_set_dumpable(int value);

/// prctl(PR_GET_DUMPABLE).
int clinux_get_dumpable(void);

/// The layout of struct ucred (SO_PEERCRED), which glibc only declares under _GNU_SOURCE and so Swift's
/// Glibc module does not export.
struct clinux_ucred {
    int pid;
    unsigned int uid;
    unsigned int gid;
};

#endif
