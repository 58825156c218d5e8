/* The floor for gigachatctl's one-shot: the least a native client must do for the same answer.
 *
 *     oneshot SOCKET MODEL PROMPT
 *
 * It sends the line `gigachatctl chat --no-stream -m MODEL PROMPT` sends (chat.create, id 1), reads until
 * the response for id 1 and prints the text of the reply's content parts and a newline. Exit status: 0,
 * 1 when the daemon answered with an error (printed on stderr), 2 on bad usage or a failed connection.
 * Like gigachatctl it refuses a socket whose listener runs as another user (SO_PEERCRED).
 *
 * It parses only what that needs: the daemon writes "jsonrpc" and then "id" first in every message, so the
 * response is the line that starts with the prefix below, and the bench's replies are plain text parts.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char RESPONSE[] = "{\"jsonrpc\":\"2.0\",\"id\":1,";
static char buf[1 << 22]; /* the whole response line must fit: one-shot replies are small */
static char req[1 << 16];

static size_t put_string(size_t n, const char *s) { /* a JSON string, quoted */
    n += snprintf(req + n, sizeof req - n, "\"");
    for (; *s && n < sizeof req - 8; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') n += snprintf(req + n, sizeof req - n, "\\%c", c);
        else if (c < 0x20) n += snprintf(req + n, sizeof req - n, "\\u%04x", c);
        else req[n++] = (char)c;
    }
    return n + snprintf(req + n, sizeof req - n, "\"");
}

static void put_utf8(unsigned u) {
    if (u < 0x80) putchar((int)u);
    else if (u < 0x800) { putchar(0xC0 | u >> 6); putchar(0x80 | (u & 0x3F)); }
    else { putchar(0xE0 | u >> 12); putchar(0x80 | (u >> 6 & 0x3F)); putchar(0x80 | (u & 0x3F)); }
}

static void print_texts(char *p) { /* every "text" string of the line, unescaped */
    while ((p = strstr(p, "\"text\":\""))) {
        for (p += 8; *p && *p != '"'; p++) {
            if (*p != '\\') { putchar(*p); continue; }
            switch (*++p) {
            case 'n': putchar('\n'); break;
            case 't': putchar('\t'); break;
            case 'r': putchar('\r'); break;
            case 'b': putchar('\b'); break;
            case 'f': putchar('\f'); break;
            case 'u': { unsigned u = 0; sscanf(p + 1, "%4x", &u); put_utf8(u); p += 4; break; }
            default: putchar(*p); /* \" \\ \/ */
            }
        }
    }
    putchar('\n');
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "-h") == 0) { puts("usage: oneshot SOCKET MODEL PROMPT"); return 0; }
    if (argc != 4) { fputs("usage: oneshot SOCKET MODEL PROMPT\n", stderr); return 2; }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror(argv[1]); return 2; }
    struct ucred peer;
    socklen_t len = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || (peer.uid != geteuid() && peer.uid != 0)) {
        fputs("oneshot: the socket's listener is not ours\n", stderr);
        return 2;
    }
    size_t n = snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat.create\",\"params\":"
                                         "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":");
    n = put_string(n, argv[3]);
    n += snprintf(req + n, sizeof req - n, "}]}],\"stream\":false,\"model\":");
    n = put_string(n, argv[2]);
    n += snprintf(req + n, sizeof req - n, "}}\n");
    if (n >= sizeof req || send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n) { perror("send"); return 2; }
    size_t have = 0;
    for (;;) {
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            *nl = 0;
            if (strncmp(buf, RESPONSE, sizeof RESPONSE - 1) == 0) {
                if (strncmp(buf + sizeof RESPONSE - 1, "\"error\"", 7) == 0) { fprintf(stderr, "%s\n", buf); return 1; }
                print_texts(buf);
                return 0;
            }
            have -= (size_t)(nl + 1 - buf); /* a notification: drop it */
            memmove(buf, nl + 1, have);
        }
        ssize_t got = have < sizeof buf ? recv(fd, buf + have, sizeof buf - have, 0) : -1;
        if (got <= 0) { fputs("oneshot: no response from gigachatd\n", stderr); return 2; }
        have += (size_t)got;
    }
}
