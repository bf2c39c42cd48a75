import ExporterCore
import HTTPServer
import Platform

/// The exporter's endpoints: `/metrics`, `/health` and `/`.
struct Routes: Sendable {
    let store: SnapshotStore
    let renderer: MetricsRenderer
    /// `UPDATE_INTERVAL_SECONDS`: how often a rescan must finish for the exporter to count as alive.
    let rescanInterval: Double
    let processStatistics = ProcessStatisticsCache()

    private static let paths = ["/metrics", "/health", "/"]

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
        switch request.path {
        case "/metrics":
            let body = renderer.renderBytes(snapshot, now: Timestamp.now(), process: processStatistics.current())
            // Always the text format 0.0.4, whatever `Accept` asks for (an OpenMetrics-only client included):
            // Prometheus takes it from every exporter, and its content type never mislabels the body.
            return HTTPResponse(status: 200, headers: [("Content-Type", MetricsRenderer.contentType)], body: body)
                .compressed(for: request)
        case "/health":
            switch health {
            case .healthy: return .text(200, "OK")
            case .unhealthy(let reason): return .text(503, "unhealthy: \(reason)\n")
            }
        default:
            return HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: page(snapshot))
        }
    }

    private func page(_ snapshot: ActivitySnapshot) -> String {
        let status = snapshot.status(
            at: Timestamp.now(),
            idleTimeoutSeconds: renderer.idleTimeoutSeconds,
            sources: renderer.drivingSources
        )
        let state = status.active ? "active" : "idle"
        var sessions = ""
        for session in snapshot.liveSessions {
            sessions +=
                "<li>pid \(session.pid): <b>\(escapeHTML(session.rawStatus))</b>, session "
                + "\(escapeHTML(session.sessionID)) in \(escapeHTML(session.cwd))</li>\n"
        }
        let live =
            sessions.isEmpty
            ? "<p>No live Claude Code process in the session registry.</p>"
            : "<p>Live Claude Code processes:</p>\n<ul>\n\(sessions)</ul>"
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>Claude Metrics Exporter</title></head>
            <body>
            <h1>Claude Metrics Exporter</h1>
            <p>Agent \(escapeHTML(renderer.podName)) (\(escapeHTML(renderer.repositoryName))) is <b>\(state)</b>, \
            \(snapshot.sessions) sessions.</p>
            \(live)
            <ul>
            <li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
            <li><a href="/health">/health</a>: health check</li>
            </ul>
            <p>Version \(escapeHTML(renderer.version)) (\(escapeHTML(renderer.revision))).</p>
            </body></html>

            """
    }

    private func escapeHTML(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}
