#include <sys/prctl.h>

// The watchdog's start, defined in Swift (VMP3TestSupport, CooperativePoolWatchdog.swift).
extern void vmp3_start_cooperative_pool_watchdog(void);

__attribute__((constructor))
static void vmp3_test_watchdog_constructor(void) {
    // The watchdog's `eu-stack`, a child of this process, may then attach to it where Yama's
    // ptrace_scope 1 (Ubuntu's default) would refuse. Best effort: without Yama it fails harmlessly.
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    vmp3_start_cooperative_pool_watchdog();
}
