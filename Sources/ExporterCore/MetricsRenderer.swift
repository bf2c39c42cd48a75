import Platform
import TokenUsage

/// Renders the Prometheus text exposition format (version 0.0.4) from a snapshot and the clock.
///
/// Written by hand rather than through swift-prometheus: every value here is derived at scrape time
/// from an immutable snapshot (minutes since, active), which a registry of stored gauges would have to
/// mirror on every scrape; the families come out in a fixed order; and the scrape path is a single
/// pass over a template built once, appending only the values.
public struct MetricsRenderer: Sendable {
    public var podName: String
    public var repositoryName: String
    public var idleTimeoutSeconds: Double
    public var drivingSources: Set<ActivitySource>
    public var version: String
    public var revision: String
    /// `process_start_time_seconds`.
    public var processStartTime: Double

    private let template: Template
    /// `pod="…",repository="…"` and `pod="…"`, escaped.
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
        template = Self.makeTemplate(agentLabels: agentLabels, podLabel: podLabel, version: version, revision: revision)
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

    /// The full exposition, as text.
    public func render(
        _ snapshot: ActivitySnapshot,
        now: Timestamp,
        process: ProcessStatistics,
        usage: UsageSnapshot? = nil
    ) -> String {
        String(decoding: renderBytes(snapshot, now: now, process: process, usage: usage), as: UTF8.self)
    }

    /// The full exposition, as the bytes of the response body: one pass over a template built at init
    /// (HELP, TYPE and series names with their escaped labels), appending only the values.
    /// `usage` is `nil` with `USAGE_METRICS=off`: no usage family at all.
    public func renderBytes(
        _ snapshot: ActivitySnapshot,
        now: Timestamp,
        process: ProcessStatistics,
        usage: UsageSnapshot? = nil
    ) -> [UInt8] {
        let status = snapshot.status(at: now, idleTimeoutSeconds: idleTimeoutSeconds, sources: drivingSources)
        var out: [UInt8] = []
        out.reserveCapacity(template.size + template.segments.count * 24)
        for segment in template.segments {
            out.append(contentsOf: segment.prefix)
            let value: Double =
                switch segment.slot {
                case .lastActivity: status.timestamp
                case .active: status.active ? 1 : 0
                case .sessions: Double(snapshot.sessions)
                case .minutesSince: status.secondsSince / 60
                case .healthy: snapshot.healthy ? 1 : 0
                case .directoryPresent(let root): snapshot.directoriesPresent[root.index] ? 1 : 0
                case .sourceActivity(let source): snapshot.sourceTime(source, at: now)
                case .agentSessions(let status): Double(snapshot.agentSessions(status))
                case .happySessions(let thinking):
                    Double(snapshot.happyProcesses.count { $0.thinking == thinking })
                case .files(let source): Double(snapshot.files[source])
                case .one: 1
                case .watches: Double(snapshot.watches)
                case .watchErrors: Double(snapshot.watchErrors)
                case .events: Double(snapshot.events)
                case .rescans: Double(snapshot.rescans)
                case .overflows: Double(snapshot.overflows)
                case .scanDuration: snapshot.lastScanDuration
                case .drainWaiting: Double(snapshot.drainRequestsWaiting)
                case .cpu: process.cpuSeconds
                case .openFileDescriptors: process.openFileDescriptors
                case .maxFileDescriptors: process.maxFileDescriptors
                case .residentMemory: process.residentMemoryBytes
                case .startTime: processStartTime
                }
            Self.appendValue(value, to: &out)
            out.append(UInt8(ascii: "\n"))
        }
        if let usage { appendUsage(usage, to: &out) }
        return out
    }

    /// The token-usage families. The counters appear only once the history is read (`claude_exporter_usage_ready`
    /// 1), so that Prometheus never takes the history for new spending.
    private func appendUsage(_ usage: UsageSnapshot, to out: inout [UInt8]) {
        var text = ""
        func family(_ name: String, _ help: String, _ type: String) {
            text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
        }
        family(
            "claude_exporter_usage_ready",
            "1 once the transcripts' history has been read and the token counters are published, else 0.",
            "gauge"
        )
        text += "claude_exporter_usage_ready{\(podLabel)} \(usage.ready ? 1 : 0)\n"
        family("claude_exporter_transcript_bytes_read_total", "Transcript bytes read for token usage.", "counter")
        text += "claude_exporter_transcript_bytes_read_total{\(podLabel)} \(usage.bytesRead)\n"
        if usage.ready {
            family(
                "claude_tokens_total",
                "Tokens of de-duplicated assistant responses in the transcripts, by model and type.",
                "counter"
            )
            for model in usage.models {
                let labels = "{\(agentLabels),model=\"\(Self.escapeLabel(model.name))\",type=\""
                let tokens = model.usage.tokens
                text += "claude_tokens_total\(labels)input\"} \(tokens.input)\n"
                text += "claude_tokens_total\(labels)output\"} \(tokens.output)\n"
                text += "claude_tokens_total\(labels)cache_creation\"} \(tokens.cacheCreation)\n"
                text += "claude_tokens_total\(labels)cache_read\"} \(tokens.cacheRead)\n"
            }
            family("claude_assistant_messages_total", "De-duplicated assistant responses, by model.", "counter")
            for model in usage.models {
                text += "claude_assistant_messages_total{\(agentLabels),model=\"\(Self.escapeLabel(model.name))\"} "
                text += "\(model.usage.messages)\n"
            }
            family(
                "claude_session_context_tokens",
                "Input, cache creation and cache read tokens of the newest response of each live session.",
                "gauge"
            )
            for (session, tokens) in usage.liveContexts.sorted(by: { $0.key < $1.key }) {
                text += "claude_session_context_tokens{\(agentLabels),session_id=\"\(Self.escapeLabel(session))\"} "
                text += "\(tokens)\n"
            }
            family(
                "claude_exporter_transcript_lines_skipped_total",
                "Transcript lines that name usage but could not be counted: malformed, schema, too_long.",
                "counter"
            )
            for (index, reason) in UsageLine.SkipReason.allCases.enumerated() {
                text += "claude_exporter_transcript_lines_skipped_total{\(podLabel),reason=\"\(reason.rawValue)\"} "
                text += "\(usage.skipped[index])\n"
            }
        }
        out.append(contentsOf: text.utf8)
    }

    /// What a sample's value is.
    enum Slot: Sendable {
        case lastActivity, active, sessions, minutesSince, healthy
        case directoryPresent(RootDirectory)
        case sourceActivity(ActivitySource)
        case files(ActivitySource)
        case agentSessions(AgentStatus)
        case happySessions(thinking: Bool)
        case one, watches, watchErrors, events, rescans, overflows, scanDuration, drainWaiting
        case cpu, openFileDescriptors, maxFileDescriptors, residentMemory, startTime
    }

    /// The exposition with the values left out: each segment is the text that comes before a value.
    struct Template: Sendable {
        var segments: [(prefix: [UInt8], slot: Slot)] = []
        var size = 0
        private var pending = ""

        mutating func family(_ name: String, _ help: String, type: String = "gauge") {
            pending += "# HELP \(name) \(MetricsRenderer.escapeHelp(help))\n# TYPE \(name) \(type)\n"
        }

        mutating func sample(_ name: String, _ labels: String, _ slot: Slot) {
            let prefix = Array((pending + name + labels + " ").utf8)
            pending = ""
            size += prefix.count
            segments.append((prefix, slot))
        }
    }

    private static func makeTemplate(
        agentLabels: String,
        podLabel: String,
        version: String,
        revision: String
    ) -> Template {
        var t = Template()
        let agent = "{\(agentLabels)}"
        t.family(
            "claude_last_activity_timestamp_seconds",
            "Unix time of the newest activity among the sources in ACTIVITY_SOURCES (0 before any activity file exists)."
        )
        t.sample("claude_last_activity_timestamp_seconds", agent, .lastActivity)
        t.family("claude_session_active", "1 if the newest activity is younger than IDLE_TIMEOUT_MINUTES, else 0.")
        t.sample("claude_session_active", agent, .active)
        t.family(
            "claude_sessions_total",
            "Claude Code session transcripts (projects/<slug>/<uuid>.jsonl or session-*.jsonl). "
                + "A gauge despite its suffix, kept for compatibility."
        )
        t.sample("claude_sessions_total", agent, .sessions)
        t.family(
            "claude_minutes_since_last_activity",
            "Minutes since the newest activity (since the exporter started when no activity file exists yet)."
        )
        t.sample("claude_minutes_since_last_activity", agent, .minutesSince)
        t.family(
            "claude_exporter_healthy",
            "1 while the Claude directory can be read or does not exist yet; 0 when it exists but cannot be read."
        )
        t.sample("claude_exporter_healthy", "{\(podLabel)}", .healthy)
        t.family(
            "claude_exporter_directory_present",
            "1 if the directory exists, else 0 (while it is missing, the metrics of its sources stay 0): "
                + RootDirectory.allCases.map { "directory=\"\($0.name)\" is \($0.variable)" }.joined(separator: ", ")
                + "."
        )
        for root in RootDirectory.allCases {
            t.sample(
                "claude_exporter_directory_present",
                "{\(podLabel),directory=\"\(root.name)\"}",
                .directoryPresent(root)
            )
        }
        t.family(
            "claude_source_last_activity_timestamp_seconds",
            "Unix time of the newest activity per source, whether or not the source is in ACTIVITY_SOURCES "
                + "(0 before any)."
        )
        for source in ActivitySource.allCases {
            t.sample(
                "claude_source_last_activity_timestamp_seconds",
                "{\(agentLabels),source=\"\(source.rawValue)\"}",
                .sourceActivity(source)
            )
        }
        t.family("claude_activity_files", "Files that each activity source is currently made of.")
        for source in ActivitySource.allCases {
            t.sample("claude_activity_files", "{\(agentLabels),source=\"\(source.rawValue)\"}", .files(source))
        }
        t.family(
            "claude_agent_transcripts",
            "Session transcript files per coding agent, as claude_activity_files counts them ("
                + ActivitySource.allCases.compactMap { source in source.agent.map { "\($0): source \(source)" } }
                .joined(separator: ", ")
                + "); Claude Code's include its subagents' (claude_sessions_total counts its sessions only)."
        )
        for source in ActivitySource.allCases {
            guard let agent = source.agent else { continue }
            t.sample("claude_agent_transcripts", "{\(agentLabels),agent=\"\(agent)\"}", .files(source))
        }
        t.family(
            "claude_agent_sessions",
            "Live Claude Code processes in the session registry ($CLAUDE_DIR/sessions/<pid>.json), by status."
        )
        for status in AgentStatus.allCases {
            t.sample("claude_agent_sessions", "{\(agentLabels),status=\"\(status.rawValue)\"}", .agentSessions(status))
        }
        t.family(
            "claude_happy_sessions",
            "Live Happy processes ($HAPPY_DIR/logs/<date-time>-pid-<pid>.log), by the state their log last reported."
        )
        t.sample("claude_happy_sessions", "{\(agentLabels),state=\"thinking\"}", .happySessions(thinking: true))
        t.sample("claude_happy_sessions", "{\(agentLabels),state=\"idle\"}", .happySessions(thinking: false))
        t.family("claude_exporter_build_info", "Version and git revision of the exporter; always 1.")
        t.sample(
            "claude_exporter_build_info",
            "{version=\"\(escapeLabel(version))\",revision=\"\(escapeLabel(revision))\"}",
            .one
        )
        t.family("claude_exporter_watches", "Directories under inotify watch.")
        t.sample("claude_exporter_watches", "", .watches)
        t.family(
            "claude_exporter_watch_errors_total",
            "Directories that could not be watched (watch limit, permissions); the rescan still covers them.",
            type: "counter"
        )
        t.sample("claude_exporter_watch_errors_total", "", .watchErrors)
        t.family("claude_exporter_events_total", "inotify events received.", type: "counter")
        t.sample("claude_exporter_events_total", "", .events)
        t.family(
            "claude_exporter_rescans_total",
            "Full scans done (startup, periodic, overflow, reload).",
            type: "counter"
        )
        t.sample("claude_exporter_rescans_total", "", .rescans)
        t.family(
            "claude_exporter_inotify_overflows_total",
            "inotify queue overflows; each triggers a full rescan.",
            type: "counter"
        )
        t.sample("claude_exporter_inotify_overflows_total", "", .overflows)
        t.family("claude_exporter_scan_duration_seconds", "Duration of the last full scan.")
        t.sample("claude_exporter_scan_duration_seconds", "", .scanDuration)
        t.family(
            "claude_exporter_drain_requests_waiting",
            "Requests to /-/drain held until the agent is between turns."
        )
        t.sample("claude_exporter_drain_requests_waiting", "", .drainWaiting)
        t.family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", type: "counter")
        t.sample("process_cpu_seconds_total", "", .cpu)
        t.family("process_open_fds", "Number of open file descriptors.")
        t.sample("process_open_fds", "", .openFileDescriptors)
        t.family("process_max_fds", "Maximum number of open file descriptors.")
        t.sample("process_max_fds", "", .maxFileDescriptors)
        t.family("process_resident_memory_bytes", "Resident memory size in bytes.")
        t.sample("process_resident_memory_bytes", "", .residentMemory)
        t.family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
        t.sample("process_start_time_seconds", "", .startTime)
        return t
    }

    /// Appends a value: integers digit by digit (no allocation), others through ``formatValue(_:)``.
    static func appendValue(_ value: Double, to out: inout [UInt8]) {
        guard value == value.rounded(), abs(value) < 1e15 else {
            out.append(contentsOf: formatValue(value).utf8)
            return
        }
        var integer = Int64(value)
        if integer < 0 {
            out.append(UInt8(ascii: "-"))
            integer = -integer
        }
        let start = out.count
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(integer % 10))
            integer /= 10
        } while integer > 0
        out[start...].reverse()
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
