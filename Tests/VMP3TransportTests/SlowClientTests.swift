import Foundation
import Testing
import VMP3TestSupport

/// Slow clients (slowloris) against the real servers: connections that dribble their headers are
/// closed after the request-head timeout, and a real client is served meanwhile.
@Suite struct SlowClientTests {
    /// Opens `count` connections that send a request line and then one header line every 0.2 s,
    /// never finishing the head; prints how many the server closed and when the last one was.
    static let slowloris = """
    import socket, sys, time
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sockets = []
    for _ in range(count):
        s = socket.create_connection((host, port))
        s.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: slow\\r\\n")
        s.settimeout(0.01)
        sockets.append(s)
    start = time.time()
    closed = [None] * count
    while time.time() - start < 30 and None in closed:
        for i, s in enumerate(sockets):
            if closed[i] is not None:
                continue
            try:
                s.sendall(b"X-Slow: 1\\r\\n")
                if s.recv(1) == b"":
                    closed[i] = time.time() - start
            except socket.timeout:
                pass
            except OSError:
                closed[i] = time.time() - start
        time.sleep(0.2)
    done = [c for c in closed if c is not None]
    print("closed %d of %d, the last after %.1f s" % (len(done), count, max(done) if done else -1))
    """

    static func attack(port: Int, count: Int = 50) async throws -> (closed: Int, last: Double) {
        let run = try await ExternalTool.run("python3", ["-c", slowloris, "127.0.0.1", String(port), String(count)])
        let match = try #require(run.text.firstMatch(of: /closed (\d+) of \d+, the last after ([0-9.-]+) s/), "\(run.text) \(run.stderr)")
        return (Int(match.1) ?? 0, Double(match.2) ?? -1)
    }

    @Test("`vmp3 serve`: 50 connections dribbling their headers are all closed after the 2 s head timeout, and /healthz answers meanwhile")
    func serve() async throws {
        let server = try await RunningServe.start(environment: ["VMP3_HTTP_HEADER_TIMEOUT_SECONDS": "2"])
        let port = try #require(URL(string: server.url)?.port)
        async let attack = Self.attack(port: port)
        try await Task.sleep(for: .milliseconds(500))
        let health = try await ExternalTool.run("curl", ["-s", "--max-time", "5", "-w", "%{http_code}", "-o", "/dev/null", "\(server.url)/healthz"])
        #expect(health.text == "200")
        let (closed, last) = try await attack
        #expect(closed == 50)
        #expect(last >= 1.5 && last < 10, "the last slow connection was closed after \(last) s")
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    /// Registers and logs in, then starts an upload declaring 100 kB and sends it a byte every
    /// 0.3 s; prints when the server closed the connection and how many jobs the user has.
    static let tricklingUpload = """
    import json, socket, sys, time, urllib.request
    base, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    def call(path, body=None, token=None):
        request = urllib.request.Request(base + path, data=body)
        if body is not None: request.add_header("Content-Type", "application/json")
        if token: request.add_header("Authorization", "Bearer " + token)
        return json.load(urllib.request.urlopen(request))
    credentials = json.dumps({"email": "slow@example.com", "password": "a long passphrase"}).encode()
    call("/v1/auth/register", credentials)
    token = call("/v1/auth/login", credentials)["access_token"]
    s = socket.create_connection((host, port))
    s.sendall(("POST /v1/jobs HTTP/1.1\\r\\nHost: slow\\r\\nAuthorization: Bearer %s\\r\\n"
               "Content-Type: application/octet-stream\\r\\nContent-Length: 100000\\r\\n\\r\\n" % token).encode())
    s.settimeout(0.01)
    start = time.time()
    closed = None
    sent = 0
    while time.time() - start < 30 and closed is None:
        try:
            s.sendall(b"x")
            sent += 1
            if s.recv(1) == b"":
                closed = time.time() - start
        except socket.timeout:
            pass
        except OSError:
            closed = time.time() - start
        time.sleep(0.3)
    jobs = len(call("/v1/jobs", token=token)["jobs"])
    upload = urllib.request.Request(base + "/v1/jobs", data=open(sys.argv[4], "rb").read())
    upload.add_header("Content-Type", "application/octet-stream")
    upload.add_header("Authorization", "Bearer " + token)
    status = urllib.request.urlopen(upload).status
    print("closed after %.1f s, %d bytes sent, %d jobs, next upload %d" % (closed if closed is not None else -1, sent, jobs, status))
    """

    @Test("`vmp3 serve`: an upload trickled a byte at a time (never idle) is cut off at the 2 s body deadline, nothing is kept, and the next upload is served")
    func tricklingUpload() async throws {
        let server = try await RunningServe.start(environment: ["VMP3_HTTP_BODY_TIMEOUT_SECONDS": "2"])
        let port = try #require(URL(string: server.url)?.port)
        let clip = try await TestClip.make(at: try makeScratchDirectory().appendingPathComponent("clip.mp4"), seconds: 1)
        let run = try await ExternalTool.run("python3", ["-c", Self.tricklingUpload, server.url, "127.0.0.1", String(port), clip.path])
        let match = try #require(run.text.firstMatch(of: /closed after ([0-9.-]+) s, (\d+) bytes sent, (\d+) jobs, next upload (\d+)/), "\(run.text) \(run.stderr)")
        let closed = Double(match.1) ?? -1
        #expect(closed >= 1.5 && closed < 15, "the trickling upload was closed after \(closed) s")
        #expect(Int(match.3) == 0, "a job was made of a cut-off upload")
        #expect(Int(match.4) == 202, "the next upload after the cut-off one")
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    /// The start of a Python script run as `python3 -c SCRIPT HOST PORT`: registers a user on
    /// the server and logs in, leaving `host`, `port` and the bearer `token`.
    static let signedIn = """
    import json, socket, sys, time, urllib.request
    host, port = sys.argv[1], int(sys.argv[2])
    def call(path, body):
        request = urllib.request.Request("http://%s:%d%s" % (host, port, path), data=body)
        request.add_header("Content-Type", "application/json")
        return json.load(urllib.request.urlopen(request))
    credentials = json.dumps({"email": "user@example.com", "password": "a long passphrase"}).encode()
    call("/v1/auth/register", credentials)
    token = call("/v1/auth/login", credentials)["access_token"]

    """

    /// Trickles a login's body (`/v1/auth/login`, declaring 200 bytes) and an upload's, a byte
    /// every 0.2 s for up to 6 s each; prints when the server closed each (-1: still open).
    static let tricklingBodies = signedIn + """
    def trickle(head):
        s = socket.create_connection((host, port))
        s.sendall(head.encode())
        s.settimeout(0.01)
        start = time.time()
        while time.time() - start < 6:
            try:
                s.sendall(b"x")
                if s.recv(1) == b"":
                    return time.time() - start
            except socket.timeout:
                pass
            except OSError:
                return time.time() - start
            time.sleep(0.2)
        return -1
    login = trickle("POST /v1/auth/login HTTP/1.1\\r\\nHost: slow\\r\\nContent-Type: application/json\\r\\nContent-Length: 200\\r\\n\\r\\n")
    upload = trickle("POST /v1/jobs?bitrate=128 HTTP/1.1\\r\\nHost: slow\\r\\nAuthorization: Bearer %s\\r\\n"
                     "Content-Type: application/octet-stream\\r\\nContent-Length: 100000\\r\\n\\r\\n" % token)
    anonymous = trickle("POST //v1/jobs/ HTTP/1.1\\r\\nHost: slow\\r\\nContent-Type: application/octet-stream\\r\\nContent-Length: 100000\\r\\n\\r\\n")
    print("login closed after %.1f s, upload closed after %.1f s, anonymous upload closed after %.1f s" % (login, upload, anonymous))
    """

    @Test("`vmp3 serve`: a login's body trickled is cut off at the small-body deadline (1 s), and so is an upload's once it is refused (no token); a signed-in upload keeps the upload's (an hour)")
    func smallBodyDeadline() async throws {
        let server = try await RunningServe.start(environment: ["VMP3_HTTP_SMALL_BODY_TIMEOUT_SECONDS": "1"])
        let port = try #require(URL(string: server.url)?.port)
        let run = try await ExternalTool.run("python3", ["-c", Self.tricklingBodies, "127.0.0.1", String(port)])
        let match = try #require(
            run.text.firstMatch(of: /login closed after ([0-9.-]+) s, upload closed after ([0-9.-]+) s, anonymous upload closed after ([0-9.-]+) s/),
            "\(run.text) \(run.stderr)"
        )
        let login = Double(match.1) ?? -1, upload = Double(match.2) ?? 0, anonymous = Double(match.3) ?? -1
        // Hang detectors, not speed checks: the hour-long deadline is what must not apply.
        #expect(login >= 0 && login < 6, "the trickling login was closed after \(login) s")
        #expect(upload == -1, "the trickling upload was closed after \(upload) s")
        #expect(anonymous >= 0 && anonymous < 6, "the trickling upload without a token was closed after \(anonymous) s")
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
    }

    /// Opens 8 connections at once and holds them; prints how many the server closed, whether a
    /// request on a 9th is answered while they are held, and after they are closed.
    static let manyConnections = """
    import socket, sys, time, urllib.request
    host, port = sys.argv[1], int(sys.argv[2])
    held = [socket.create_connection((host, port)) for _ in range(8)]
    shut = [False] * 8
    def look():
        for i, s in enumerate(held):
            if shut[i]: continue
            s.settimeout(0.05)
            try:
                if s.recv(1) == b"": shut[i] = True
            except socket.timeout:
                pass
            except OSError:
                shut[i] = True
    # Until the expected closes are seen (up to 30 s), then a second more for any beyond them.
    start = time.time()
    while sum(shut) < int(sys.argv[3]) and time.time() - start < 30:
        look()
    time.sleep(1)
    look()
    closed = sum(shut)
    def health():
        try:
            return urllib.request.urlopen("http://%s:%d/healthz" % (host, port), timeout=5).status
        except Exception:
            return 0
    during = health()
    for s in held: s.close()
    after, start = 0, time.time()
    while after != 200 and time.time() - start < 30:
        time.sleep(0.2)
        after = health()
    print("closed %d of 8, healthz %d while held, %d after" % (closed, during, after))
    """

    @Test("`vmp3 serve`: a client holds at most VMP3_HTTP_CONNECTIONS_PER_CLIENT connections (5): the rest are closed as they open, counted and logged once, and it is served again once it lets go")
    func connectionsPerClient() async throws {
        // The tests connect from loopback, which is otherwise a trusted proxy and not counted.
        let server = try await RunningServe.start(environment: ["VMP3_HTTP_CONNECTIONS_PER_CLIENT": "5", "VMP3_TRUSTED_PROXIES": "none"])
        let port = try #require(URL(string: server.url)?.port)
        let run = try await ExternalTool.run("python3", ["-c", Self.manyConnections, "127.0.0.1", String(port), "3"])
        let match = try #require(run.text.firstMatch(of: /closed (\d+) of 8, healthz (\d+) while held, (\d+) after/), "\(run.text) \(run.stderr)")
        #expect(Int(match.1) == 3)
        #expect(Int(match.2) == 0, "a sixth connection while five are held")
        #expect(Int(match.3) == 200)
        // Each refusal is counted (the three connections and the health check while five were
        // held); the first while the client held its cap is logged, once.
        let metrics = try await ExternalTool.run("curl", ["-sf", "\(server.url)/metrics"]).text
        #expect(metrics.contains("vmp3_http_connections_refused_total{reason=\"connections_per_client\"} 4"), "\(metrics)")
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
        let warnings = exited.stderr.split(separator: "\n").filter { $0.contains("holds its cap of connections") }
        #expect(warnings.count == 1, "\(exited.stderrTail)")
        #expect(warnings.first?.contains("client=127.0.0.1") == true, "\(warnings)")
    }

    /// Starts six uploads at once, each declaring 400,000 bytes and sending them over about two
    /// seconds; prints each one's status, and how many were answered before their bodies were sent.
    static let parallelUploads = signedIn + """
    size = 400000
    sockets = []
    for _ in range(6):
        s = socket.create_connection((host, port))
        s.sendall(("POST /v1/jobs HTTP/1.1\\r\\nHost: up\\r\\nAuthorization: Bearer %s\\r\\n"
                   "Content-Type: application/octet-stream\\r\\nContent-Length: %d\\r\\n\\r\\n" % (token, size)).encode())
        sockets.append(s)
    # The refusals come before any body byte: wait for as many as expected (up to 30 s), then
    # send the bodies of the rest.
    expected = int(sys.argv[3])
    answers = [b""] * 6
    start = time.time()
    while time.time() - start < 30 and sum(1 for a in answers if a) < expected:
        for i, s in enumerate(sockets):
            if answers[i]: continue
            s.setblocking(False)
            try:
                answers[i] = s.recv(65536)
            except BlockingIOError:
                pass
            s.setblocking(True)
        time.sleep(0.05)
    early = sum(1 for a in answers if a)
    for chunk in range(8):
        for i, s in enumerate(sockets):
            if not answers[i]:
                try: s.sendall(b"x" * (size // 8))
                except OSError: pass
        time.sleep(0.25)
    statuses = []
    for i, s in enumerate(sockets):
        s.settimeout(20)
        data = answers[i]
        while b"\\r\\n" not in data:
            more = s.recv(65536)
            if not more: break
            data += more
        statuses.append(data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "none")
    print("statuses %s, %d answered before their bodies" % (",".join(sorted(statuses)), early))
    """

    static func parallelUploads(_ environment: [String: String], refusals: Int) async throws -> (statuses: String, early: Int) {
        let server = try await RunningServe.start(environment: environment)
        let port = try #require(URL(string: server.url)?.port)
        let run = try await ExternalTool.run("python3", ["-c", Self.parallelUploads, "127.0.0.1", String(port), String(refusals)])
        let match = try #require(run.text.firstMatch(of: /statuses ([0-9a-z,]+), (\d+) answered before their bodies/), "\(run.text) \(run.stderr)")
        let exited = try await server.stop()
        #expect(exited.status == 0, "\(exited.stderrTail)")
        return (String(match.1), Int(match.2) ?? -1)
    }

    @Test("`vmp3 serve`: six parallel uploads of 400 kB against a 1 MiB quota: each reserves its length as it starts, so two are taken and four refused 413 before their bodies are sent")
    func parallelUploadsReserveTheQuota() async throws {
        let result = try await Self.parallelUploads(["VMP3_STORAGE_QUOTA_MB": "1"], refusals: 4)
        #expect(result.statuses == "202,202,413,413,413,413")
        #expect(result.early == 4)
    }

    @Test("`vmp3 serve`: a user sends at most VMP3_MAX_UPLOADS_IN_FLIGHT uploads at once (3): of six parallel ones, three are 429 before their bodies are sent")
    func uploadsInFlightCapped() async throws {
        let result = try await Self.parallelUploads(["VMP3_STORAGE_QUOTA_MB": "0", "VMP3_MAX_UPLOADS_IN_FLIGHT": "3"], refusals: 3)
        #expect(result.statuses == "202,202,202,429,429,429")
        #expect(result.early == 3)
    }

    @Test("the auth service, as every service: slow connections are closed after its head timeout")
    func service() async throws {
        let data = try makeScratchDirectory()
        let auth = try await ServiceProcess.start("vmp3-auth", environment: [
            "VMP3_DATA_DIR": data.path, "VMP3_HTTP_ADDRESS": "127.0.0.1:0", "VMP3_HTTP_HEADER_TIMEOUT_SECONDS": "1",
        ])
        let port = try #require(URL(string: auth.url)?.port)
        let (closed, last) = try await Self.attack(port: port, count: 20)
        #expect(closed == 20)
        #expect(last >= 0.7 && last < 10, "the last slow connection was closed after \(last) s")
        auth.process.kill(SIGTERM)
        #expect(try await auth.process.finish().status == 0)
    }

    @Test("bad timeouts are configuration errors naming the variable")
    func badSettings() async throws {
        let run = try await ExternalTool.run("/usr/bin/env", [
            "VMP3_HTTP_IDLE_TIMEOUT_SECONDS=forever", "VMP3_DATA_DIR=\(try makeScratchDirectory().path)", "VMP3_HTTP_ADDRESS=127.0.0.1:0", builtExecutable("vmp3-auth"),
        ])
        #expect(run.status != 0)
        #expect(run.stderr.contains("VMP3_HTTP_IDLE_TIMEOUT_SECONDS") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
    }
}
