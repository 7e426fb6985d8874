#ifndef VMP3_CSANDBOX_H
#define VMP3_CSANDBOX_H

#include <stdint.h>
#include <sys/types.h>

/// The confinement layers of VMP3's conversion child, one call each, in the order the child
/// applies them (see SandboxConfinement.swift). Each returns 0 on success or an errno value; none
/// allocates anything that outlives it.

/// Starts the conversion child `path` with `input` as its descriptor 0 and `output` as 1 (-1:
/// `/dev/null` there), `errors` as 2 and `channel` as 3, and nothing else open; in a process group of its
/// own, with default signal handling and nothing blocked. Returns its pid, or -errno.
pid_t vmp3_sandbox_spawn(const char *path, char *const argv[], char *const envp[], int input, int output, int errors, int channel);

/// The most descriptors one message between parent and child carries: the input and the output.
#define VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS 2

/// sendmsg(2) of `bytes` with `count` descriptors attached (SCM_RIGHTS), MSG_NOSIGNAL, EINTR
/// retried. Returns the bytes sent (possibly fewer than `length`: send the rest without
/// descriptors), or -errno.
ssize_t vmp3_sandbox_send_with_descriptors(int socket, const void *bytes, size_t length, const int *descriptors, int count);

/// recvmsg(2) into `bytes`, EINTR retried; descriptors that came with them (close-on-exec) are
/// appended to `descriptors` while `*received < capacity` and closed beyond it. Returns the bytes
/// read (0: the peer closed), or -errno (-EMSGSIZE if the kernel had to drop descriptors).
ssize_t vmp3_sandbox_receive_with_descriptors(int socket, void *bytes, size_t length, int *descriptors, int capacity, int *received);

/// dup2(from, to) and close(from), leaving `to` without close-on-exec. Returns 0 or errno.
int vmp3_sandbox_move_descriptor(int from, int to);

/// pipe2(ends, O_CLOEXEC), which Swift's Glibc module does not export. Returns 0 or errno.
int vmp3_sandbox_pipe(int ends[2]);

/// A file in memory (memfd_create(2), close-on-exec) holding `length` bytes of `bytes`, its offset
/// at its start: the built-in clip a waiting child converts. Returns its descriptor, or -errno.
int vmp3_sandbox_memory_file(const char *name, const void *bytes, size_t length);

/// pidfd_open(2): a descriptor (close-on-exec) that poll(2) finds readable once the child `pid`
/// has ended, so that its parent wakes for its end as it does for its messages. Returns it, or
/// -errno (-ENOSYS before Linux 5.3).
int vmp3_sandbox_pidfd_open(pid_t pid);

/// PR_SET_PDEATHSIG: the child gets SIGKILL when the thread that started it ends. Returns ESRCH if
/// the parent is already gone (its pid is no longer `parent`), which the child answers by exiting.
int vmp3_sandbox_die_with_parent(pid_t parent);

/// New user, network, mount and IPC namespaces (unshare(2)). Must run while the process has one
/// thread. Returns the errno of the first refusal; then no namespace was entered.
int vmp3_sandbox_enter_namespaces(void);

/// Resource limits, soft and hard alike; 0 leaves a limit as it is (except `max_files`, whose 0
/// closes nothing but is also left as it is). No core files whatever is asked.
int vmp3_sandbox_set_limits(uint64_t address_space_bytes, uint64_t cpu_seconds, uint64_t file_size_bytes, uint64_t max_files);

/// Drops every capability: effective, permitted, inheritable, ambient and the bounding set.
int vmp3_sandbox_drop_capabilities(void);

/// PR_SET_NO_NEW_PRIVS: no execve can ever grant privileges again (and seccomp needs it).
int vmp3_sandbox_no_new_privileges(void);

/// Compiles the seccomp-BPF allow-list (libseccomp) into a program kept for
/// `vmp3_sandbox_install_filter`, so that installing it later is one system call: a waiting
/// child does this before its request. Returns 0 or an errno value.
int vmp3_sandbox_prepare_filter(void);

/// Installs the seccomp-BPF allow-list (libseccomp), compiled now if it was not prepared, with
/// prctl(PR_SET_SECCOMP), after `vmp3_sandbox_no_new_privileges`. System calls not on it fail
/// with EPERM; the dangerous ones (execve, ptrace, socket, connect, a fork of a process, mount,
/// bpf, …) kill the process with SIGSYS. Returns 0 or an errno value.
int vmp3_sandbox_install_filter(void);

/// 1 if the process runs under AddressSanitizer (whose shadow memory does not fit any address
/// space limit), else 0.
int vmp3_sandbox_has_address_sanitizer(void);

/// Test hooks: each tries what a compromised decoder would, and returns 0 if the kernel let it
/// through, else the errno it got (a refusal that kills the process does not return).
int vmp3_sandbox_try_open(const char *path);
int vmp3_sandbox_try_connect_loopback(uint16_t port);
int vmp3_sandbox_try_exec(const char *path);
int vmp3_sandbox_try_fork(void);
/// Writes to `descriptor` until a write fails; returns its errno.
int vmp3_sandbox_write_until_refused(int descriptor);
/// Allocates and touches 16 MiB blocks until an allocation fails, then holds them until killed.
int vmp3_sandbox_exhaust_memory(void);
/// Computes without end: no system call, no callback.
void vmp3_sandbox_spin(void);
/// Sends `signal` to the calling process (a crash on purpose).
void vmp3_sandbox_raise(int signal);

#endif
