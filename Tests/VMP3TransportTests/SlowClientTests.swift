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
