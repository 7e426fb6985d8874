#define _GNU_SOURCE
#include "CThreadSampler.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define VMP3_SAMPLER_FRAMES 128

static void *sample_frames[VMP3_SAMPLER_FRAMES];
static volatile int sample_count;
static sem_t sample_done;

static void sampler_handler(int signal, siginfo_t *info, void *context) {
    (void)signal; (void)info; (void)context;
    int saved = errno;
    // backtrace() is safe here once warmed up (its first call loads libgcc's unwinder).
    sample_count = backtrace(sample_frames, VMP3_SAMPLER_FRAMES);
    sem_post(&sample_done);
    errno = saved;
}

int vmp3_sampler_install(void) {
    void *warm[2];
    backtrace(warm, 2);
    if (sem_init(&sample_done, 0, 0) != 0) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = sampler_handler;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGPROF, &action, NULL);
}

int vmp3_sampler_sample(int tid, void **frames, int max, int timeout_ms) {
    // An answer that came after an earlier caller gave up is not this one's.
    while (sem_trywait(&sample_done) == 0) {}
    if (syscall(SYS_tgkill, getpid(), tid, SIGPROF) != 0) return -1;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec += 1; deadline.tv_nsec -= 1000000000L; }
    while (sem_timedwait(&sample_done, &deadline) != 0) {
        if (errno != EINTR) return -1;
    }
    int count = sample_count < max ? sample_count : max;
    for (int index = 0; index < count; index++) frames[index] = sample_frames[index];
    return count;
}

int vmp3_sampler_module(const void *address, const char **file, const void **base) {
    Dl_info info;
    if (dladdr(address, &info) == 0 || info.dli_fname == NULL || info.dli_fbase == NULL) return 0;
    *file = info.dli_fname;
    *base = info.dli_fbase;
    return 1;
}

int vmp3_sampler_current_thread(void) {
    return (int)syscall(SYS_gettid);
}
