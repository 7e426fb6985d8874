import Testing
@testable import VMP3Core
@testable import VMP3MediaConverter
import VMP3Kit

/// Which addresses webhooks may reach.
@Suite struct WebhookEgressPolicyTests {
    @Test("internal addresses are refused, public ones permitted", arguments: [
        ("127.0.0.1", false), ("127.255.0.9", false), ("10.1.2.3", false), ("172.16.0.1", false), ("172.31.255.255", false),
        ("172.32.0.1", true), ("192.168.1.1", false), ("169.254.169.254", false), ("100.64.0.1", false), ("0.0.0.0", false),
        ("224.0.0.251", false), ("255.255.255.255", false), ("198.18.0.1", false), ("8.8.8.8", true), ("1.1.1.1", true),
        ("::1", false), ("::", false), ("fe80::1", false), ("fd00:ec2::254", false), ("fc00::1", false), ("ff02::1", false),
        ("::ffff:127.0.0.1", false), ("::ffff:10.0.0.1", false), ("::ffff:8.8.8.8", true), ("64:ff9b::a00:1", false),
        ("2001:db8::1", false), ("2606:4700:4700::1111", true),
        // 6to4 of 10.0.0.1 and of a public address, Teredo, local-use NAT64: tunnels into IPv4.
        ("2002:a00:1::1", false), ("2002:808:808::1", false), ("2001:0:4136:e378::1", false), ("64:ff9b:1::a00:1", false),
        ("2001:4860:4860::8888", true),
    ])
    func defaults(_ address: String, _ permitted: Bool) throws {
        #expect(WebhookEgressPolicy().permits(try #require(IPAddress(address))) == permitted)
    }

    @Test("an allow-list opens internal networks, and only those")
    func allowList() throws {
        let policy = try WebhookEgressPolicy(settings: Settings(["VMP3_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8, 10.20.0.0/16,fd12::/16"]))
        #expect(policy.permits(try #require(IPAddress("127.0.0.1"))))
        #expect(policy.permits(try #require(IPAddress("10.20.7.7"))))
        #expect(!policy.permits(try #require(IPAddress("10.21.0.1"))))
        #expect(policy.permits(try #require(IPAddress("fd12::9"))))
        #expect(!policy.permits(try #require(IPAddress("169.254.169.254"))))
        for bad in ["10.0.0.0/33", "localhost", "1.2.3", "::1/129"] {
            #expect(throws: ConfigurationError.self) { try WebhookEgressPolicy(settings: Settings(["VMP3_WEBHOOK_ALLOWED_NETWORKS": bad])) }
        }
    }

    @Test("a name is judged by every address it resolves to: localhost is refused")
    func names() async throws {
        await #expect(throws: NotificationError.self) { _ = try await WebhookEgressPolicy().address(for: "localhost") }
        let allowed = WebhookEgressPolicy(allowedNetworks: [IPNetwork("127.0.0.0/8")!, IPNetwork("::1")!])
        #expect(try await allowed.address(for: "localhost").description.contains("1"))
        #expect(try await WebhookEgressPolicy().address(for: "8.8.8.8") == IPAddress("8.8.8.8"))
    }

    @Test("networks: parsing, membership and printing")
    func networks() throws {
        let network = try #require(IPNetwork("172.16.0.0/12"))
        #expect(network.contains(try #require(IPAddress("172.20.1.1"))))
        #expect(!network.contains(try #require(IPAddress("172.32.0.0"))))
        #expect(!network.contains(try #require(IPAddress("::ffff:172.20.1.1"))))  // another family
        #expect(try #require(IPNetwork("::1")).prefixLength == 128)
        #expect(IPAddress("[2001:db8::1]")?.description == "2001:db8::1")
        #expect(IPNetwork("0.0.0.0/0")?.contains(try #require(IPAddress("9.9.9.9"))) == true)
        #expect(IPAddress("not an address") == nil)
    }
}
