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
        #expect(try await server.stop().status == 0)
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
