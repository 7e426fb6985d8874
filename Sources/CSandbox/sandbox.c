// The plumbing between VMP3 and its conversion child: C because each is a few system calls
// (posix_spawn's file actions, SCM_RIGHTS, pidfd_open) with kernel structures Swift would only wrap.
#define _GNU_SOURCE
#include "CSandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

pid_t vmp3_sandbox_spawn(const char *path, char *const argv[], char *const envp[], int input, int output, int errors, int channel) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int error = posix_spawn_file_actions_init(&actions);
    if (error) return -error;
    error = posix_spawnattr_init(&attributes);
    if (error) {
        posix_spawn_file_actions_destroy(&actions);
        return -error;
    }
    // dup2 clears close-on-exec on the copies; everything from 4 up is closed, whatever the
    // server had open (its sockets to the broker, the store and the clients).
    if (!error) error = input >= 0 ? posix_spawn_file_actions_adddup2(&actions, input, 0)
                                   : posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (!error) error = output >= 0 ? posix_spawn_file_actions_adddup2(&actions, output, 1)
                                    : posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (!error) error = posix_spawn_file_actions_adddup2(&actions, errors, 2);
    if (!error) error = posix_spawn_file_actions_adddup2(&actions, channel, 3);
    if (!error) error = posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    // The spawning thread's mask is inherited, and the server's threads block signals.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (!error) error = posix_spawnattr_setsigmask(&attributes, &none);
    if (!error) error = posix_spawnattr_setsigdefault(&attributes, &all);
    if (!error) error = posix_spawnattr_setpgroup(&attributes, 0);
    if (!error) error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    pid_t pid = 0;
    if (!error) error = posix_spawn(&pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error ? -error : pid;
}

ssize_t vmp3_sandbox_send_with_descriptors(int socket, const void *bytes, size_t length, const int *descriptors, int count) {
    if (count < 0 || count > VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS) return -EINVAL;
    struct iovec part = { .iov_base = (void *)bytes, .iov_len = length };
    union {
        char buffer[CMSG_SPACE(sizeof(int) * VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1 };
    if (count > 0) {
        message.msg_control = control.buffer;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(header), descriptors, sizeof(int) * count);
    }
    ssize_t sent;
    do {
        sent = sendmsg(socket, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -errno : sent;
}

ssize_t vmp3_sandbox_receive_with_descriptors(int socket, void *bytes, size_t length, int *descriptors, int capacity, int *received) {
    struct iovec part = { .iov_base = bytes, .iov_len = length };
    union {
        char buffer[CMSG_SPACE(sizeof(int) * VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS)];
        struct cmsghdr align;
    } control;
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer };
    ssize_t got;
    do {
        got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return -errno;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int passed[VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS];
        if (count > VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS) count = VMP3_SANDBOX_MAX_PASSED_DESCRIPTORS;
        memcpy(passed, CMSG_DATA(header), sizeof(int) * count);
        for (int i = 0; i < count; i++) {
            // More than the caller has room for are closed: the sender broke the protocol.
            if (*received < capacity) descriptors[(*received)++] = passed[i];
            else close(passed[i]);
        }
    }
    // Descriptors the kernel could not fit in the buffer are lost with MSG_CTRUNC: an error.
    if (message.msg_flags & MSG_CTRUNC) return -EMSGSIZE;
    return got;
}

int vmp3_sandbox_move_descriptor(int from, int to) {
    if (from == to) return fcntl(from, F_SETFD, 0) == 0 ? 0 : errno;
    if (dup2(from, to) < 0) return errno;
    close(from);
    return 0;
}

int vmp3_sandbox_pipe(int ends[2]) {
    return pipe2(ends, O_CLOEXEC) == 0 ? 0 : errno;
}

int vmp3_sandbox_memory_file(const char *name, const void *bytes, size_t length) {
    int descriptor = memfd_create(name, MFD_CLOEXEC);
    if (descriptor < 0) return -errno;
    size_t written = 0;
    while (written < length) {
        ssize_t count = write(descriptor, (const char *)bytes + written, length - written);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) {
            int error = count < 0 ? errno : EIO;
            close(descriptor);
            return -error;
        }
        written += (size_t)count;
    }
    if (lseek(descriptor, 0, SEEK_SET) != 0) {
        int error = errno;
        close(descriptor);
        return -error;
    }
    return descriptor;
}

int vmp3_sandbox_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    long descriptor = syscall(SYS_pidfd_open, pid, 0);
    return descriptor >= 0 ? (int)descriptor : -errno;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

int vmp3_sandbox_die_with_parent(pid_t parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return errno;
    // The parent may have died before the line above: then the signal never comes.
    if (getppid() != parent) return ESRCH;
    return 0;
}

// Defined by the AddressSanitizer runtime; weak, so absent (NULL) in a build without it.
extern void __asan_init(void) __attribute__((weak));

int vmp3_sandbox_has_address_sanitizer(void) {
    return __asan_init != NULL;
}
