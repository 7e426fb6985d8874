#ifndef VMP3_CSANDBOX_H
#define VMP3_CSANDBOX_H

#include <stdint.h>
#include <sys/types.h>

/// The plumbing between VMP3 and its conversion child: starting it, passing descriptors over its
/// socket, waking for its end. Both sides use it; the confinement itself is CConfinement, which
/// only the child links. Each call returns what its comment says; none allocates anything that
/// outlives it.

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

/// 1 if the process runs under AddressSanitizer (whose shadow memory does not fit any address
/// space limit), else 0.
int vmp3_sandbox_has_address_sanitizer(void);

#endif
