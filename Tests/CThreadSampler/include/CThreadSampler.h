#ifndef VMP3_CTHREADSAMPLER_H
#define VMP3_CTHREADSAMPLER_H

// Takes another thread's stack from inside the process, without stopping the process: the
// cooperative pool watchdog's way of showing what holds the pool (VMP3TestSupport). A debugger
// attaching with ptrace (eu-stack, gdb) stops every thread for seconds on a loaded machine, which
// holds up the very pool it is looking at.

/// Installs the handler of SIGPROF (which Dispatch's worker threads leave unblocked, for
/// profilers). Returns 0, or -1 with errno set.
int vmp3_sampler_install(void);

/// Up to `max` return addresses of thread `tid` of this process (innermost first), taken by its
/// SIGPROF handler; waits at most `timeout_ms`. Returns the count, or -1 (no such thread, or no
/// answer in time). Not reentrant: one caller at a time.
int vmp3_sampler_sample(int tid, void **frames, int max, int timeout_ms);

/// The file of the module (executable or shared library) holding `address`, and the address it is
/// loaded at (`dladdr`, which the Glibc module does not declare). Returns 0 if none holds it.
int vmp3_sampler_module(const void *address, const char **file, const void **base);

/// The calling thread's id (`gettid`).
int vmp3_sampler_current_thread(void);

#endif
