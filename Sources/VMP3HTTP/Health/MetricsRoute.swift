import Hummingbird
import Metrics
import NIOCore
import Prometheus

/// Prometheus metrics: `GET /metrics` serves what swift-metrics collected in this process
/// (Hummingbird's request counters and durations among it), once ``bootstrap()`` has made
/// swift-prometheus the process's metrics backend.
public enum VMP3Metrics {
    /// The registry `/metrics` reads.
    public static let registry = PrometheusCollectorRegistry()

    private static let bootstrapped: Void = MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

    /// Makes swift-prometheus the metrics backend of the process. Call it once, early, from a
    /// program's entry point (the services and `vmp3 serve` do); later calls do nothing. A
    /// program with a metrics backend of its own skips it, and `/metrics` stays empty.
    public static func bootstrap() {
        _ = bootstrapped
    }

    static func add(to router: Router<VMP3RequestContext>) {
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }
}
