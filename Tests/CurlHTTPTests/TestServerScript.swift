/// The local HTTPS test server: Python 3 standard library only, listening on 127.0.0.1 with an OS-chosen port.
///
/// Arguments: certificate chain, key, and optionally a CA file whose clients must present a certificate.
/// It prints its port on stdout, and exits when its stdin closes so it never outlives the test process.
enum TestServerScript {
    static let source = #"""
        import os, ssl, sys, threading, time
        from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
        from urllib.parse import urlparse, parse_qs

        cert_file, key_file = sys.argv[1], sys.argv[2]
        client_ca = sys.argv[3] if len(sys.argv) > 3 else None

        lock = threading.Lock()
        connection_count = [0]
        closed_tags = set()
        release_events = {}
        PATTERN = bytes(range(251)) * 300

        def release_event(tag):
            with lock:
                return release_events.setdefault(tag, threading.Event())

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            def handle_error(self, request, client_address):
                pass

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def setup(self):
                # The handshake runs here, in the connection's own thread, so a stuck client cannot block accept().
                self.request.do_handshake()
                with lock:
                    connection_count[0] += 1
                    self.conn_id = connection_count[0]
                super().setup()

            def log_message(self, format, *args):
                pass

            def start(self, status, length=None, chunked=False, extra=()):
                self.send_response(status)
                self.send_header('X-Conn-Id', str(self.conn_id))
                for name, value in extra:
                    self.send_header(name, value)
                if chunked:
                    self.send_header('Transfer-Encoding', 'chunked')
                elif length is not None:
                    self.send_header('Content-Length', str(length))
                self.end_headers()

            def chunk(self, data):
                self.wfile.write(b'%x\r\n' % len(data) + data + b'\r\n')

            def end_chunks(self):
                self.wfile.write(b'0\r\n\r\n')

            def reply(self, status, body, extra=()):
                self.start(status, len(body), extra=extra)
                self.wfile.write(body)

            def query(self):
                url = urlparse(self.path)
                return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

            def do_GET(self):
                path, q = self.query()
                if path == '/hello':
                    self.reply(200, b'hello world', extra=[('Content-Type', 'text/plain')])
                elif path == '/error':
                    self.reply(500, b'internal failure')
                elif path == '/interim':
                    self.wfile.write(b'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n')
                    self.reply(200, b'after interim')
                elif path == '/stream':
                    self.start(200, chunked=True)
                    self.chunk(b'first')
                    released = release_event(q['tag']).wait(20)
                    self.chunk(b'second' if released else b'never released')
                    self.end_chunks()
                elif path == '/drip':
                    self.start(200, chunked=True)
                    for _ in range(int(q['count'])):
                        time.sleep(float(q['interval']))
                        self.chunk(b'drop')
                    self.end_chunks()
                elif path == '/release':
                    release_event(q['tag']).set()
                    self.reply(200, b'released')
                elif path == '/stall':
                    self.start(200, length=100)
                    self.wfile.write(b'partial')
                    time.sleep(30)
                    self.close_connection = True
                elif path == '/stall-head':
                    time.sleep(30)
                    self.close_connection = True
                elif path == '/endless':
                    self.start(200, chunked=True)
                    try:
                        while True:
                            self.chunk(b'x' * 1024)
                            time.sleep(0.02)
                    except OSError:
                        with lock:
                            closed_tags.add(q['tag'])
                        self.close_connection = True
                elif path == '/closed':
                    with lock:
                        closed = q['tag'] in closed_tags
                    self.reply(200, b'yes' if closed else b'no')
                elif path == '/big':
                    size = int(q['size'])
                    chunked = q.get('chunked') == '1'
                    self.start(200, length=None if chunked else size, chunked=chunked)
                    sent = 0
                    while sent < size:
                        n = min(65536, size - sent)
                        offset = sent % 251
                        block = PATTERN[offset:offset + n]
                        if chunked:
                            self.chunk(block)
                        else:
                            self.wfile.write(block)
                        sent += n
                    if chunked:
                        self.end_chunks()
                elif path == '/whoami':
                    name = ''
                    certificate = self.request.getpeercert()
                    for rdn in (certificate or {}).get('subject', ()):
                        for key, value in rdn:
                            if key == 'commonName':
                                name = value
                    self.reply(200, name.encode())
                else:
                    self.reply(404, b'not found')

            def do_POST(self):
                path, q = self.query()
                length = int(self.headers.get('Content-Length', '0'))
                body = self.rfile.read(length) if length else b''
                if path == '/echo':
                    self.reply(200, body, extra=[
                        ('X-Echo-Header', self.headers.get('X-Test', '')),
                        ('X-Expect', self.headers.get('Expect', '')),
                    ])
                elif path == '/upload':
                    self.reply(200, body, extra=[('X-Request-Content-Type', self.headers.get('Content-Type', ''))])
                else:
                    self.reply(404, b'not found')

            def do_DELETE(self):
                self.start(204, extra=[('X-Deleted', self.path)])

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        if client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(client_ca)

        server = Server(('127.0.0.1', 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)

        def exit_with_parent():
            sys.stdin.read()
            os._exit(0)

        threading.Thread(target=exit_with_parent, daemon=True).start()
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
}
