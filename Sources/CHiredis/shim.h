#ifndef VMP3_CHIREDIS_SHIM_H
#define VMP3_CHIREDIS_SHIM_H

// hiredis 0.14 (Debian 12). Linked without pkg-config: its -D_FILE_OFFSET_BITS=64 is refused by
// SwiftPM. redisCommand is variadic and not callable from Swift: VMP3 uses redisCommandArgv,
// which is binary-safe anyway.
#include <fcntl.h>
#include <sys/socket.h>
#include <hiredis/hiredis.h>

// Marks the connection's socket close-on-exec: hiredis 0.14 opens it without, so every program
// the process started afterwards (a test's child, `vmp3` handing over to `vmp3-server`) held it
// open, and Redis saw a connection the client had long closed.
static inline void vmp3_redis_close_on_exec(redisContext *c) {
    if (c != NULL && c->fd >= 0) { fcntl(c->fd, F_SETFD, fcntl(c->fd, F_GETFD) | FD_CLOEXEC); }
}

/// Unblocks a thread waiting in redisGetReply on `c` (from another thread), so that a
/// subscription can be closed.
static inline void vmp3_redis_shutdown(redisContext *c) {
    if (c != NULL && c->fd >= 0) { shutdown(c->fd, SHUT_RDWR); }
}

#endif
