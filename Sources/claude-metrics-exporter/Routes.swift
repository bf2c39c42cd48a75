import ExporterCore
import HTTPServer
import Logging
import Platform

/// The exporter's endpoints: `/metrics`, `/health` and `/`, and beside them `/-/drain` (the `preStop` hook that
/// waits for the agent to be between turns) and Prometheus' conventional `/-/healthy` and `/-/ready`.
struct Routes: Sendable {
    let store: SnapshotStore
    /// Token usage (`nil` with `USAGE_METRICS=off`).
    let usageStore: UsageStore?
    let renderer: MetricsRenderer
    /// `UPDATE_INTERVAL_SECONDS`: how often a rescan must finish for the exporter to count as alive.
    let rescanInterval: Double
    /// `DRAIN_QUIET_SECONDS`.
    let drainQuietSeconds: Double
    /// Requests to `/-/drain` held back now, counted by the server.
    let parked: ParkedRequestCount
    let logger: Logger
    /// What `/` shows besides the snapshot.
    let page: StatusPage.Context
    let processStatistics = ProcessStatisticsCache()

    private static let paths = ["/metrics", "/health", "/", "/-/drain", "/-/healthy", "/-/ready"]
    /// The longest a drain may be asked to wait (`?timeout=`), and how long it waits when not asked.
    static let maximumDrainSeconds = 86_400.0

    func reply(to request: HTTPRequest) -> HTTPReply {
        guard Self.paths.contains(request.path), request.path == "/-/drain",
            request.method == "GET" || request.method == "HEAD"
        else { return .now(respond(to: request)) }
        return drain(request)
    }

    func respond(to request: HTTPRequest) -> HTTPResponse {
        guard Self.paths.contains(request.path) else {
            return .text(404, "not found; try /metrics\n")
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return .text(405, "method not allowed\n", headers: [("Allow", "GET, HEAD")])
        }
        var snapshot = store.snapshot
        // A stuck state actor leaves its last snapshot behind: health comes from proof of life as well.
        let health = Health.evaluate(store, snapshot, rescanInterval: rescanInterval)
        snapshot.healthy = health.isHealthy
        snapshot.drainRequestsWaiting = parked.current
        switch request.path {
        case "/-/ready":
            // Serving at all means the first full scan is done (connections wait in the backlog until then).
            return .text(200, "ready\n")
        case "/metrics":
            let body = renderer.renderBytes(
                snapshot,
                now: Timestamp.now(),
                process: processStatistics.current(),
                usage: usageStore?.snapshot
            )
            // Always the text format 0.0.4, whatever `Accept` asks for (an OpenMetrics-only client included):
            // Prometheus takes it from every exporter, and its content type never mislabels the body.
            return HTTPResponse(status: 200, headers: [("Content-Type", MetricsRenderer.contentType)], body: body)
                .compressed(for: request)
        case "/health", "/-/healthy":
            switch health {
            case .healthy: return .text(200, "OK")
            case .unhealthy(let reason): return .text(503, "unhealthy: \(reason)\n")
            }
        default:
            return HTTPResponse(
                status: 200,
                contentType: "text/html; charset=utf-8",
                body: StatusPage.html(snapshot, at: Timestamp.now(), page)
            )
        }
    }

    /// `GET /-/drain[?timeout=SECONDS]`: `200` as soon as the agent is between turns (see ``Drain``), held until
    /// then; `503` with what it still waits for when the timeout runs out.
    private func drain(_ request: HTTPRequest) -> HTTPReply {
        var timeout = Self.maximumDrainSeconds
        if let query = request.query {
            for pair in query.split(separator: "&") where pair.hasPrefix("timeout=") {
                let text = pair.dropFirst("timeout=".count)
                guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= Self.maximumDrainSeconds
                else {
                    return .now(
                        .text(400, "invalid timeout=\(text): expected a number of seconds from 0 to 86400\n")
                    )
                }
                timeout = seconds
            }
        }
        let quiet = drainQuietSeconds
        let sources = renderer.drivingSources
        let store = store
        let logger = logger
        let started = MonotonicClock.nanoseconds()
        let state: @Sendable () -> Drain = {
            Drain.evaluate(store.snapshot, at: Timestamp.now(), quietSeconds: quiet, sources: sources)
        }
        guard case .waiting(let reason) = state() else {
            logger.info("drain done", metadata: ["waited_seconds": "0"])
            return .now(.text(200, "drained: the agent is between turns\n"))
        }
        logger.info("drain waiting", metadata: ["waiting_for": "\(reason)", "timeout_seconds": "\(timeout)"])
        let seconds = { @Sendable in Double(MonotonicClock.nanoseconds() - started) / 1e9 }
        return .later(
            DeferredResponse(
                timeout: timeout,
                answer: {
                    guard case .ready = state() else { return nil }
                    logger.info("drain done", metadata: ["waited_seconds": "\(Int(seconds()))"])
                    return .text(200, "drained: the agent is between turns\n")
                },
                timedOut: {
                    let still: String
                    if case .waiting(let reason) = state() { still = reason } else { still = "nothing" }
                    logger.warning(
                        "drain timed out",
                        metadata: ["waiting_for": "\(still)", "waited_seconds": "\(Int(seconds()))"]
                    )
                    return .text(503, "not drained after \(Int(seconds())) s: waiting for \(still)\n")
                }
            )
        )
    }
}
