#ifndef VMP3_CHIREDIS_SHIM_H
#define VMP3_CHIREDIS_SHIM_H

// hiredis 0.14 (Debian 12). Linked without pkg-config: its -D_FILE_OFFSET_BITS=64 is refused by
// SwiftPM. redisCommand is variadic and not callable from Swift: VMP3 uses redisCommandArgv,
// which is binary-safe anyway.
#include <sys/socket.h>
#include <hiredis/hiredis.h>

/// Unblocks a thread waiting in redisGetReply on `c` (from another thread), so that a
/// subscription can be closed.
static inline void vmp3_redis_shutdown(redisContext *c) {
    if (c != NULL && c->fd >= 0) { shutdown(c->fd, SHUT_RDWR); }
}

#endif
