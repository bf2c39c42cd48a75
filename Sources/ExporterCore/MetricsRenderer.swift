import Platform

/// Renders the Prometheus text exposition format (version 0.0.4) from a snapshot and the clock.
///
/// Written by hand rather than through swift-prometheus: every value here is derived at scrape time
/// from an immutable snapshot (minutes since, active), which a registry of stored gauges would have to
/// mirror on every scrape; the families come out in a fixed order; and the scrape path stays a single
/// pass over a byte buffer.
public struct MetricsRenderer: Sendable {
    public var podName: String
    public var repositoryName: String
    public var idleTimeoutSeconds: Double
    public var drivingSources: Set<ActivitySource>
    public var version: String
    public var revision: String
    /// `process_start_time_seconds`.
    public var processStartTime: Double

    private let agentLabels: String
    private let podLabel: String

    public init(
        podName: String,
        repositoryName: String,
        idleTimeoutSeconds: Double,
        drivingSources: Set<ActivitySource>,
        version: String,
        revision: String,
        processStartTime: Double
    ) {
        self.podName = podName
        self.repositoryName = repositoryName
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.drivingSources = drivingSources
        self.version = version
        self.revision = revision
        self.processStartTime = processStartTime
        agentLabels = "pod=\"\(Self.escapeLabel(podName))\",repository=\"\(Self.escapeLabel(repositoryName))\""
        podLabel = "pod=\"\(Self.escapeLabel(podName))\""
    }

    public init(configuration: ExporterConfiguration, version: String, revision: String, processStartTime: Double) {
        self.init(
            podName: configuration.podName,
            repositoryName: configuration.repositoryName,
            idleTimeoutSeconds: configuration.idleTimeoutSeconds,
            drivingSources: configuration.activitySources,
            version: version,
            revision: revision,
            processStartTime: processStartTime
        )
    }

    /// The `Content-Type` of ``render(_:now:process:)``'s output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The full exposition.
    public func render(_ snapshot: ActivitySnapshot, now: Timestamp, process: ProcessStatistics) -> String {
        let status = snapshot.status(at: now, idleTimeoutSeconds: idleTimeoutSeconds, sources: drivingSources)
        var out = ""
        out.reserveCapacity(4096)
        let agent = "{\(agentLabels)}"

        family(
            &out,
            "claude_last_activity_timestamp_seconds",
            "Unix time of the newest activity among the sources in ACTIVITY_SOURCES (0 before any activity file exists)."
        )
        sample(&out, "claude_last_activity_timestamp_seconds", agent, status.timestamp)
        family(&out, "claude_session_active", "1 if the newest activity is younger than IDLE_TIMEOUT_MINUTES, else 0.")
        sample(&out, "claude_session_active", agent, status.active ? 1 : 0)
        family(
            &out,
            "claude_sessions_total",
            "Claude Code session transcripts (projects/<slug>/<uuid>.jsonl or session-*.jsonl). "
                + "A gauge despite its suffix, kept for compatibility."
        )
        sample(&out, "claude_sessions_total", agent, Double(snapshot.sessions))
        family(
            &out,
            "claude_minutes_since_last_activity",
            "Minutes since the newest activity (since the exporter started when no activity file exists yet)."
        )
        sample(&out, "claude_minutes_since_last_activity", agent, status.secondsSince / 60)
        family(
            &out,
            "claude_exporter_healthy",
            "1 while the Claude directory can be read or does not exist yet; 0 when it exists but cannot be read."
        )
        sample(&out, "claude_exporter_healthy", "{\(podLabel)}", snapshot.healthy ? 1 : 0)

        family(
            &out,
            "claude_source_last_activity_timestamp_seconds",
            "Unix time of the newest activity per source, whether or not the source is in ACTIVITY_SOURCES (0 before any)."
        )
        for source in ActivitySource.allCases {
            sample(
                &out,
                "claude_source_last_activity_timestamp_seconds",
                "{\(agentLabels),source=\"\(source.rawValue)\"}",
                snapshot.newest[source]?.time.secondsSinceEpoch ?? 0
            )
        }
        family(&out, "claude_activity_files", "Files that each activity source is currently made of.")
        for source in ActivitySource.allCases {
            sample(
                &out,
                "claude_activity_files",
                "{\(agentLabels),source=\"\(source.rawValue)\"}",
                Double(snapshot.files[source])
            )
        }

        family(&out, "claude_exporter_build_info", "Version and git revision of the exporter; always 1.")
        sample(
            &out,
            "claude_exporter_build_info",
            "{version=\"\(Self.escapeLabel(version))\",revision=\"\(Self.escapeLabel(revision))\"}",
            1
        )
        family(&out, "claude_exporter_watches", "Directories under inotify watch.")
        sample(&out, "claude_exporter_watches", "", Double(snapshot.watches))
        family(
            &out,
            "claude_exporter_watch_errors_total",
            "Directories that could not be watched (watch limit, permissions); the rescan still covers them.",
            type: "counter"
        )
        sample(&out, "claude_exporter_watch_errors_total", "", Double(snapshot.watchErrors))
        family(&out, "claude_exporter_events_total", "inotify events received.", type: "counter")
        sample(&out, "claude_exporter_events_total", "", Double(snapshot.events))
        family(
            &out,
            "claude_exporter_rescans_total",
            "Full scans done (startup, periodic, overflow, reload).",
            type: "counter"
        )
        sample(&out, "claude_exporter_rescans_total", "", Double(snapshot.rescans))
        family(
            &out,
            "claude_exporter_inotify_overflows_total",
            "inotify queue overflows; each triggers a full rescan.",
            type: "counter"
        )
        sample(&out, "claude_exporter_inotify_overflows_total", "", Double(snapshot.overflows))
        family(&out, "claude_exporter_scan_duration_seconds", "Duration of the last full scan.")
        sample(&out, "claude_exporter_scan_duration_seconds", "", snapshot.lastScanDuration)

        family(&out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", type: "counter")
        sample(&out, "process_cpu_seconds_total", "", process.cpuSeconds)
        family(&out, "process_open_fds", "Number of open file descriptors.")
        sample(&out, "process_open_fds", "", process.openFileDescriptors)
        family(&out, "process_max_fds", "Maximum number of open file descriptors.")
        sample(&out, "process_max_fds", "", process.maxFileDescriptors)
        family(&out, "process_resident_memory_bytes", "Resident memory size in bytes.")
        sample(&out, "process_resident_memory_bytes", "", process.residentMemoryBytes)
        family(&out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
        sample(&out, "process_start_time_seconds", "", processStartTime)
        return out
    }

    private func family(_ out: inout String, _ name: String, _ help: String, type: String = "gauge") {
        out += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    private func sample(_ out: inout String, _ name: String, _ labels: String, _ value: Double) {
        out += name
        out += labels
        out += " "
        out += Self.formatValue(value)
        out += "\n"
    }

    /// A sample value as the format wants it: integers without a fraction, `NaN`, `+Inf`, `-Inf`,
    /// otherwise the shortest decimal that reads back as the same double.
    public static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        return value.description
    }

    /// Escapes a label value: backslash, double quote and line feed.
    public static func escapeLabel(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var result = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// Escapes `# HELP` text: backslash and line feed.
    static func escapeHelp(_ value: String) -> String {
        var result = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }
}
