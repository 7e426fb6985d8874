#ifndef VMP3_CFFMPEG_SHIM_H
#define VMP3_CFFMPEG_SHIM_H

#include <errno.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
#include <libavutil/mem.h>
#include <libavutil/samplefmt.h>
#include <libavutil/pixdesc.h>

// Swift cannot import function-like macros (AVERROR, FFERRTAG) or macros with casts
// (AV_NOPTS_VALUE): these wrappers give them a callable form.

static inline int vmp3_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int vmp3_averror_enomem(void) { return AVERROR(ENOMEM); }
static inline int vmp3_averror_eof(void) { return AVERROR_EOF; }
static inline int vmp3_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int vmp3_averror_stream_not_found(void) { return AVERROR_STREAM_NOT_FOUND; }
static inline int vmp3_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int vmp3_averror_patchwelcome(void) { return AVERROR_PATCHWELCOME; }
static inline int vmp3_averror_exit(void) { return AVERROR_EXIT; }
static inline int vmp3_averror_from_errno(int e) { return AVERROR(e); }
static inline int vmp3_errno_from_averror(int e) { return AVUNERROR(e); }
static inline int64_t vmp3_av_nopts_value(void) { return AV_NOPTS_VALUE; }

#endif
