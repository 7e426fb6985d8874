// Starts VMP3TestSupport's cooperative pool watchdog in every test process, before main: Swift
// Testing has no hook that runs once per process. Nothing to call from Swift.
