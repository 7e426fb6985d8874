#ifndef VMP3_CCONFINEMENT_H
#define VMP3_CCONFINEMENT_H

#include <stdint.h>

/// The confinement layers of VMP3's conversion child, one call each, in the order the child
/// applies them (see SandboxConfinement.swift): each returns 0 on success or an errno value, and
/// only `vmp3_confinement_prepare_filter` keeps anything (its compiled program, for the life of
/// the process). Then the test hooks that try to get past them, each as its comment says.

/// New user, network, mount and IPC namespaces (unshare(2)). Must run while the process has one
/// thread. Returns the errno of the first refusal; then no namespace was entered.
int vmp3_confinement_enter_namespaces(void);

/// Resource limits, soft and hard alike; 0 leaves a limit as it is (except `max_files`, whose 0
/// closes nothing but is also left as it is). No core files whatever is asked.
int vmp3_confinement_set_limits(uint64_t address_space_bytes, uint64_t cpu_seconds, uint64_t file_size_bytes, uint64_t max_files);

/// Drops every capability: effective, permitted, inheritable, ambient and the bounding set.
int vmp3_confinement_drop_capabilities(void);

/// PR_SET_NO_NEW_PRIVS: no execve can ever grant privileges again (and seccomp needs it).
int vmp3_confinement_no_new_privileges(void);

/// Compiles the seccomp-BPF allow-list (libseccomp) into a program kept for
/// `vmp3_confinement_install_filter`, so that installing it later is one system call: a waiting
/// child does this before its request. Returns 0 or an errno value.
int vmp3_confinement_prepare_filter(void);

/// Installs the seccomp-BPF allow-list (libseccomp), compiled now if it was not prepared, with
/// prctl(PR_SET_SECCOMP), after `vmp3_confinement_no_new_privileges`. System calls not on it fail
/// with EPERM; the dangerous ones (execve, ptrace, socket, connect, a fork of a process, mount,
/// bpf, …) kill the process with SIGSYS. Returns 0 or an errno value.
int vmp3_confinement_install_filter(void);

/// Test hooks: each tries what a compromised decoder would, and returns 0 if the kernel let it
/// through, else the errno it got (a refusal that kills the process does not return).
int vmp3_confinement_try_open(const char *path);
int vmp3_confinement_try_connect_loopback(uint16_t port);
int vmp3_confinement_try_exec(const char *path);
int vmp3_confinement_try_fork(void);
/// Writes to `descriptor` until a write fails; returns its errno.
int vmp3_confinement_write_until_refused(int descriptor);
/// Allocates and touches 16 MiB blocks until an allocation fails, then holds them until killed.
int vmp3_confinement_exhaust_memory(void);
/// Computes without end: no system call, no callback.
void vmp3_confinement_spin(void);
/// Sends `signal` to the calling process (a crash on purpose).
void vmp3_confinement_raise(int signal);

#endif
