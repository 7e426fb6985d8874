// The confinement layers of VMP3's conversion child. They are C because each is a few system
// calls with kernel structures and constants that Swift would only wrap; libseccomp writes and
// checks the BPF program of the filter.
#define _GNU_SOURCE
#include "CConfinement.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int vmp3_confinement_enter_namespaces(void) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC) != 0) return errno;
    return 0;
}

static int set_limit(int resource, rlim_t soft, rlim_t hard) {
    struct rlimit limit = { .rlim_cur = soft, .rlim_max = hard };
    return setrlimit(resource, &limit) == 0 ? 0 : errno;
}

int vmp3_confinement_set_limits(uint64_t address_space_bytes, uint64_t cpu_seconds, uint64_t file_size_bytes, uint64_t max_files) {
    int error;
    if ((error = set_limit(RLIMIT_CORE, 0, 0))) return error;
    if (address_space_bytes && (error = set_limit(RLIMIT_AS, address_space_bytes, address_space_bytes))) return error;
    // SIGXCPU at the soft limit, SIGKILL two seconds of CPU later should it be caught.
    if (cpu_seconds && (error = set_limit(RLIMIT_CPU, cpu_seconds, cpu_seconds + 2))) return error;
    if (file_size_bytes && (error = set_limit(RLIMIT_FSIZE, file_size_bytes, file_size_bytes))) return error;
    if (max_files && (error = set_limit(RLIMIT_NOFILE, max_files, max_files))) return error;
    return 0;
}

int vmp3_confinement_drop_capabilities(void) {
    // The bounding set needs CAP_SETPCAP to shrink; a process that never had it has nothing to
    // drop there, so EPERM is not a failure.
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && errno != EPERM) return errno;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };
    if (syscall(SYS_capset, &header, data) != 0) return errno;
    return 0;
}

int vmp3_confinement_no_new_privileges(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : errno;
}

#define ALLOW(name) if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), 0)) < 0) goto done
#define ALLOW_IF(name, ...) if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), __VA_ARGS__)) < 0) goto done
#define KILL(name) if ((rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(name), 0)) < 0) goto done

// The filter, compiled by vmp3_confinement_prepare_filter: a BPF program that lives as long as the
// process (one per process, made once, never freed: the kernel keeps its own copy once loaded).
static struct sock_fprog prepared_filter;

// Builds the allow-list in `ctx`.
static int add_rules(scmp_filter_ctx ctx);

int vmp3_confinement_prepare_filter(void) {
    if (prepared_filter.filter) return 0;
    // What is not allowed fails with EPERM: a library probing for something optional (a file
    // under /proc or /sys, a terminal) gets an error it handles, not a dead conversion.
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) return ENOMEM;
    int rc = add_rules(ctx);
    int file = -1;
    if (rc == 0) {
        file = memfd_create("vmp3-filter", MFD_CLOEXEC);
        if (file < 0) rc = -errno;
    }
    if (rc == 0) rc = seccomp_export_bpf(ctx, file);
    off_t size = rc == 0 ? lseek(file, 0, SEEK_END) : -1;
    if (rc == 0 && (size <= 0 || size % sizeof(struct sock_filter) != 0 || size / sizeof(struct sock_filter) > BPF_MAXINSNS)) rc = -EINVAL;
    struct sock_filter *program = rc == 0 ? malloc((size_t)size) : NULL;
    if (rc == 0 && !program) rc = -ENOMEM;
    if (rc == 0 && pread(file, program, (size_t)size, 0) != size) rc = -EIO;
    if (rc == 0) {
        prepared_filter.len = (unsigned short)(size / sizeof(struct sock_filter));
        prepared_filter.filter = program;
    } else {
        free(program);
    }
    if (file >= 0) close(file);
    seccomp_release(ctx);
    return rc < 0 ? -rc : 0;
}

int vmp3_confinement_install_filter(void) {
    int rc = vmp3_confinement_prepare_filter();
    if (rc) return rc;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prepared_filter) == 0 ? 0 : errno;
}

static int add_rules(scmp_filter_ctx ctx) {
    int rc = 0;

    // I/O on the descriptors the child was given (input 0, output 1, errors 2, messages 3).
    ALLOW(read); ALLOW(write); ALLOW(readv); ALLOW(writev); ALLOW(pread64); ALLOW(pwrite64);
    ALLOW(lseek); ALLOW(close); ALLOW(fstat); ALLOW(fsync); ALLOW(fdatasync); ALLOW(fcntl);
    ALLOW(poll); ALLOW(ppoll);
    // fstat is fstatat(fd, "", AT_EMPTY_PATH) in glibc: a descriptor, never a path.
    ALLOW_IF(newfstatat, 1, SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    ALLOW_IF(statx, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
    // Memory, never executable: no code can be made at run time.
    ALLOW_IF(mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    ALLOW_IF(mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    ALLOW(munmap); ALLOW(mremap); ALLOW(madvise); ALLOW(brk);
    // Threads (the segment-parallel encoders) and their synchronisation. glibc tries clone3
    // first and falls back to clone on ENOSYS, whose flags can be checked: threads only.
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0) goto done;
    ALLOW_IF(clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))) < 0) goto done;
    ALLOW(futex); ALLOW(set_robust_list); ALLOW(rseq); ALLOW(sched_yield); ALLOW(sched_getaffinity);
    ALLOW(exit); ALLOW(exit_group); ALLOW(restart_syscall);
    ALLOW_IF(prctl, 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
    // Time, identity, randomness, signals to itself (abort()), its own limits read back.
    ALLOW(clock_gettime); ALLOW(clock_getres); ALLOW(clock_nanosleep); ALLOW(nanosleep); ALLOW(gettimeofday);
    ALLOW(getpid); ALLOW(gettid); ALLOW(getppid); ALLOW(getuid); ALLOW(geteuid); ALLOW(getgid); ALLOW(getegid);
    ALLOW(getrandom); ALLOW(getrusage); ALLOW(uname); ALLOW(sysinfo);
    ALLOW(rt_sigaction); ALLOW(rt_sigprocmask); ALLOW(rt_sigreturn); ALLOW(sigaltstack);
    ALLOW_IF(tgkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    ALLOW_IF(prlimit64, 1, SCMP_A2(SCMP_CMP_EQ, 0));
    ALLOW(getrlimit);

    // What only an attacker's code would do: the process dies of SIGSYS at the first try.
    KILL(execve); KILL(execveat); KILL(fork); KILL(vfork); KILL(ptrace);
    KILL(socket); KILL(socketpair); KILL(connect); KILL(bind); KILL(listen); KILL(accept); KILL(accept4);
    KILL(mount); KILL(umount2); KILL(pivot_root); KILL(chroot); KILL(unshare); KILL(setns);
    KILL(kexec_load); KILL(kexec_file_load); KILL(init_module); KILL(finit_module); KILL(delete_module);
    KILL(bpf); KILL(perf_event_open); KILL(process_vm_readv); KILL(process_vm_writev);
    KILL(keyctl); KILL(add_key); KILL(request_key); KILL(userfaultfd); KILL(personality);
    KILL(io_uring_setup); KILL(io_uring_enter); KILL(io_uring_register);
done:
    return rc < 0 ? rc : 0;
}

#undef ALLOW
#undef ALLOW_IF
#undef KILL

int vmp3_confinement_try_open(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}

int vmp3_confinement_try_connect_loopback(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port) };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int result = connect(fd, (struct sockaddr *)&address, sizeof address) == 0 ? 0 : errno;
    close(fd);
    return result;
}

int vmp3_confinement_try_exec(const char *path) {
    char *const argv[] = { (char *)path, NULL };
    char *const envp[] = { NULL };
    execve(path, argv, envp);
    return errno;
}

int vmp3_confinement_try_fork(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) return errno;
    return 0;
}

int vmp3_confinement_write_until_refused(int descriptor) {
    static char block[1 << 16];
    memset(block, 0x55, sizeof block);
    for (;;) {
        if (write(descriptor, block, sizeof block) < 0 && errno != EINTR) return errno;
    }
}

int vmp3_confinement_exhaust_memory(void) {
    for (;;) {
        char *block = malloc(16 << 20);
        if (!block) break;
        memset(block, 1, 16 << 20);
    }
    // Holds what it has until the parent sees it (the parent's view is what counts).
    for (;;) {
        struct timespec second = { .tv_sec = 1, .tv_nsec = 0 };
        nanosleep(&second, NULL);
    }
}

void vmp3_confinement_spin(void) {
    volatile uint64_t state = 1;
    for (;;) state = state * 6364136223846793005ULL + 1442695040888963407ULL;
}

void vmp3_confinement_raise(int signal) {
    raise(signal);
}
