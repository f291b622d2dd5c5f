/* OCS stub for the relay benchmark.
 *
 * Accepts TCP peers, answers CER/DWR/DPR from templates and every CCR with a pre-encoded
 * CCA whose Session-Id AVP and hop-by-hop/end-to-end ids are copied from the request.
 * A deterministic fraction of CCRs (--out-of-credit-ratio) gets Result-Code 4012.
 *
 * usage: diam_stub --templates DIR [--address A] [--port N] [--out-of-credit-ratio R]
 * Prints "PORT <n>" on stdout once listening; runs until SIGTERM/SIGINT; prints counters
 * to stderr at exit.
 */
#include "diam_common.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/epoll.h>

#define MAX_FDS 1024
#define OUT_HIGH_WATER (16u << 20)
#define PPM 1000000u

typedef struct {
    buf_t head;    /* CCA template: header + Session-Id AVP + tail */
    size_t tail_off; /* where the AVPs after Session-Id start */
} cca_template_t;

typedef struct {
    int fd;
    buf_t in;
    buf_t out;
    uint32_t events;
    int closing;
} conn_t;

typedef struct {
    buf_t cea, dwa, dpa;
    cca_template_t cca_ok, cca_ocl;
    uint32_t ocl_ppm;
    uint32_t ocl_acc;
    unsigned long long ccr, ocl, other_requests, connections;
    conn_t *conns[MAX_FDS];
    int epfd;
} stub_t;

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void load_cca(const char *dir, const char *name, cca_template_t *t) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    load_file(path, &t->head);
    uint32_t sid_len = 0;
    size_t off = avp_find(t->head.data, (uint32_t)t->head.len, AVP_SESSION_ID, &sid_len);
    if (off != DIAM_HEADER_LEN) die("%s: Session-Id must be the first AVP", path);
    t->tail_off = off + ((sid_len + 3u) & ~3u);
}

static void load_named(const char *dir, const char *name, buf_t *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    load_file(path, b);
}

static void append_cca(stub_t *s, buf_t *out, const uint8_t *req, uint32_t len) {
    const cca_template_t *t = &s->cca_ok;
    s->ocl_acc += s->ocl_ppm;
    if (s->ocl_acc >= PPM) {
        s->ocl_acc -= PPM;
        t = &s->cca_ocl;
        s->ocl++;
    }
    uint32_t sid_len = 0;
    size_t sid_off = avp_find(req, len, AVP_SESSION_ID, &sid_len);
    const uint8_t *sid = t->head.data + DIAM_HEADER_LEN;
    size_t sid_padded = t->tail_off - DIAM_HEADER_LEN;
    size_t padded = (sid_len + 3u) & ~3u;
    if (sid_off && sid_off + padded <= len) { /* else keep the template's Session-Id */
        sid = req + sid_off;
        sid_padded = padded;
    }
    size_t tail_len = t->head.len - t->tail_off;
    size_t total = DIAM_HEADER_LEN + sid_padded + tail_len;
    uint8_t *p = buf_reserve(out, total);
    memcpy(p, t->head.data, DIAM_HEADER_LEN);
    wr32(p, (1u << 24) | (uint32_t)total);
    memcpy(p + 12, req + 12, 8);
    memcpy(p + DIAM_HEADER_LEN, sid, sid_padded);
    memcpy(p + DIAM_HEADER_LEN + sid_padded, t->head.data + t->tail_off, tail_len);
    out->len += total;
}

/* Handle every complete message in c->in; returns -1 on a framing error. */
static int handle_input(stub_t *s, conn_t *c) {
    while (buf_pending(&c->in) >= DIAM_HEADER_LEN) {
        const uint8_t *m = c->in.data + c->in.start;
        uint32_t len = msg_length(m);
        if (len < DIAM_HEADER_LEN || len > DIAM_MAX_MESSAGE || (m[0] != 1)) return -1;
        if (buf_pending(&c->in) < len) break;
        if (msg_flags(m) & DIAM_FLAG_REQUEST) {
            switch (msg_command(m)) {
            case CMD_CCR:
                s->ccr++;
                append_cca(s, &c->out, m, len);
                break;
            case CMD_DWR:
                append_answer(&c->out, &s->dwa, m);
                break;
            case CMD_CER:
                append_answer(&c->out, &s->cea, m);
                break;
            case CMD_DPR:
                append_answer(&c->out, &s->dpa, m);
                c->closing = 1;
                break;
            default:
                s->other_requests++;
                break;
            }
        }
        c->in.start += len;
    }
    buf_compact(&c->in);
    return 0;
}

static void close_conn(stub_t *s, conn_t *c) {
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    s->conns[c->fd] = NULL;
    free(c->in.data);
    free(c->out.data);
    free(c);
}

static void update_events(stub_t *s, conn_t *c) {
    uint32_t want = 0;
    if (buf_pending(&c->out) < OUT_HIGH_WATER && !c->closing) want |= EPOLLIN;
    if (buf_pending(&c->out) > 0) want |= EPOLLOUT;
    if (want == c->events) return;
    struct epoll_event ev = {.events = want, .data.fd = c->fd};
    epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = want;
}

static void accept_all(stub_t *s, int lfd) {
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) return;
        if (fd >= MAX_FDS) {
            close(fd);
            continue;
        }
        set_socket_options(fd);
        conn_t *c = calloc(1, sizeof *c);
        if (!c) die("out of memory");
        c->fd = fd;
        buf_init(&c->in, 1u << 20);
        buf_init(&c->out, 1u << 20);
        c->events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
        s->conns[fd] = c;
        s->connections++;
    }
}

static void serve_conn(stub_t *s, conn_t *c, uint32_t events) {
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = fill_in(c->fd, &c->in, 4u << 20);
        if (n == 0 || n == -1 || (n > 0 && handle_input(s, c) < 0)) {
            close_conn(s, c);
            return;
        }
    }
    if (flush_out(c->fd, &c->out) < 0 || (c->closing && buf_pending(&c->out) == 0)) {
        close_conn(s, c);
        return;
    }
    update_events(s, c);
}

static int listen_on(const char *address, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) die("bad address %s", address);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind: %s", strerror(errno));
    if (listen(fd, 128) < 0) die("listen: %s", strerror(errno));
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    printf("PORT %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *address = "127.0.0.1";
    int port = 0;
    double ratio = 0.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--templates") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--address") && i + 1 < argc) address = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out-of-credit-ratio") && i + 1 < argc)
            ratio = atof(argv[++i]);
        else die("usage: %s --templates DIR [--address A] [--port N] "
                 "[--out-of-credit-ratio R]", argv[0]);
    }
    if (!dir) die("--templates is required");
    if (ratio < 0.0 || ratio > 1.0) die("--out-of-credit-ratio must be within [0, 1]");

    static stub_t s;
    load_named(dir, "stub_cea.bin", &s.cea);
    load_named(dir, "stub_dwa.bin", &s.dwa);
    load_named(dir, "stub_dpa.bin", &s.dpa);
    load_cca(dir, "stub_cca.bin", &s.cca_ok);
    load_cca(dir, "stub_cca_4012.bin", &s.cca_ocl);
    s.ocl_ppm = (uint32_t)(ratio * PPM + 0.5);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = listen_on(address, port);
    s.epfd = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(s.epfd, EPOLL_CTL_ADD, lfd, &lev);

    struct epoll_event events[64];
    while (!stop_requested) {
        int n = epoll_wait(s.epfd, events, 64, 1000);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) accept_all(&s, lfd);
            else if (s.conns[fd]) serve_conn(&s, s.conns[fd], events[i].events);
        }
    }
    fprintf(stderr, "diam_stub: connections=%llu ccr=%llu out_of_credit=%llu other=%llu\n",
            s.connections, s.ccr, s.ocl, s.other_requests);
    return 0;
}
