/* Shared helpers for the benchmark's load generator and OCS stub.
 *
 * Both programs only frame Diameter messages, peek at a few header fields and AVPs, and
 * send pre-encoded templates (built in Python with python-diameter) with the identifiers
 * patched in. Nothing here allocates per message.
 */
#ifndef DIAM_COMMON_H
#define DIAM_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DIAM_HEADER_LEN 20u
#define DIAM_FLAG_REQUEST 0x80u
#define DIAM_FLAG_PROXIABLE 0x40u
#define DIAM_MAX_MESSAGE (1u << 20)

#define CMD_CER 257u
#define CMD_CCR 272u
#define CMD_DWR 280u
#define CMD_DPR 282u

#define AVP_SESSION_ID 263u
#define AVP_RESULT_CODE 268u
#define AVP_FLAG_VENDOR 0x80u

static inline uint32_t rd32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t msg_length(const uint8_t *m) { return rd32(m) & 0xFFFFFFu; }
static inline uint8_t msg_flags(const uint8_t *m) { return m[4]; }
static inline uint32_t msg_command(const uint8_t *m) { return rd32(m + 4) & 0xFFFFFFu; }
static inline uint32_t msg_hbh(const uint8_t *m) { return rd32(m + 12); }
static inline uint32_t msg_e2e(const uint8_t *m) { return rd32(m + 16); }

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* A growable byte buffer with a consumed prefix [0, start). */
typedef struct {
    uint8_t *data;
    size_t start;
    size_t len;
    size_t cap;
} buf_t;

static inline void buf_init(buf_t *b, size_t cap) {
    b->data = malloc(cap);
    if (!b->data) die("out of memory");
    b->start = 0;
    b->len = 0;
    b->cap = cap;
}

static inline void buf_compact(buf_t *b) {
    if (b->start == 0) return;
    if (b->start < b->len) memmove(b->data, b->data + b->start, b->len - b->start);
    b->len -= b->start;
    b->start = 0;
}

/* Make room for n more bytes at data + len; returns the write pointer. */
static inline uint8_t *buf_reserve(buf_t *b, size_t n) {
    if (b->len + n > b->cap) {
        buf_compact(b);
        if (b->len + n > b->cap) {
            size_t cap = b->cap * 2;
            while (cap < b->len + n) cap *= 2;
            uint8_t *data = realloc(b->data, cap);
            if (!data) die("out of memory");
            b->data = data;
            b->cap = cap;
        }
    }
    return b->data + b->len;
}

static inline size_t buf_pending(const buf_t *b) { return b->len - b->start; }

static inline void load_file(const char *path, buf_t *out) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open %s: %s", path, strerror(errno));
    buf_init(out, 4096);
    size_t n;
    while ((n = fread(buf_reserve(out, 4096), 1, 4096, f)) > 0) out->len += n;
    fclose(f);
    if (out->len < DIAM_HEADER_LEN || msg_length(out->data) != out->len)
        die("%s is not one Diameter message", path);
}

/* Find a top-level AVP (vendor 0) by code; returns its offset in the message or 0. */
static inline size_t avp_find(const uint8_t *m, uint32_t len, uint32_t code, uint32_t *avp_len) {
    uint32_t off = DIAM_HEADER_LEN;
    while (off + 8 <= len) {
        uint32_t c = rd32(m + off);
        uint32_t l = rd32(m + off + 4) & 0xFFFFFFu;
        if (l < 8 || off + l > len) return 0;
        if (c == code && !(m[off + 4] & AVP_FLAG_VENDOR)) {
            *avp_len = l;
            return off;
        }
        off += (l + 3u) & ~3u;
    }
    return 0;
}

/* Result-Code of an answer, 0 if absent. */
static inline uint32_t result_code(const uint8_t *m, uint32_t len) {
    uint32_t l = 0;
    size_t off = avp_find(m, len, AVP_RESULT_CODE, &l);
    return (off && l >= 12) ? rd32(m + off + 8) : 0;
}

static inline void set_socket_options(int fd) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        die("TCP_NODELAY: %s", strerror(errno));
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        die("O_NONBLOCK: %s", strerror(errno));
}

/* Write what the socket takes; returns -1 on a dead connection. */
static inline int flush_out(int fd, buf_t *out) {
    while (buf_pending(out) > 0) {
        ssize_t n = send(fd, out->data + out->start, buf_pending(out), MSG_NOSIGNAL);
        if (n > 0) {
            out->start += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return -1;
        }
    }
    if (out->start == out->len) out->start = out->len = 0;
    return 0;
}

/* Read what is available (bounded); returns bytes read, 0 on EOF, -1 on error, -2 if none. */
static inline ssize_t fill_in(int fd, buf_t *in, size_t max) {
    size_t total = 0;
    for (;;) {
        if (in->cap - in->len < 65536) {
            buf_compact(in);
            if (in->cap - in->len < 65536) buf_reserve(in, 65536);
        }
        size_t room = in->cap - in->len;
        ssize_t n = recv(fd, in->data + in->len, room, 0);
        if (n > 0) {
            in->len += (size_t)n;
            total += (size_t)n;
            if (total >= max || (size_t)n < room) return (ssize_t)total;
        } else if (n == 0) {
            return total ? (ssize_t)total : 0;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return total ? (ssize_t)total : -2;
        } else {
            return total ? (ssize_t)total : -1;
        }
    }
}

/* Copy a template answer, taking hop-by-hop and end-to-end ids from the request. */
static inline void append_answer(buf_t *out, const buf_t *tmpl, const uint8_t *request) {
    uint8_t *p = buf_reserve(out, tmpl->len);
    memcpy(p, tmpl->data, tmpl->len);
    memcpy(p + 12, request + 12, 8);
    out->len += tmpl->len;
}

/* utime + stime of a whole process (all threads), in clock ticks; -1 if gone. */
static inline long long proc_cpu_ticks(int pid) {
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    char *p = strrchr(text, ')');
    if (!p) return -1;
    /* after ") ": field 3 is state; utime and stime are fields 14 and 15 */
    unsigned long long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
               &stime) != 2)
        return -1;
    return (long long)(utime + stime);
}

#endif
