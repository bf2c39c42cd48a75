import Logging
import Platform

extension ExporterConfiguration {
    /// One setting: its variable, flag, and how a value is checked and stored.
    struct Option: Sendable {
        var variable: String
        var fallbackVariable: String?
        var flag: String
        var placeholder: String
        var help: String
        var apply: @Sendable (inout ExporterConfiguration, String, String) throws(ConfigurationError) -> Void
    }

    static let maximumIdleTimeoutMinutes = 10_080.0
    static let rescanIntervalRange = 0.1...3600.0
    static let drainQuietRange = 0.0...86_400.0

    /// Every setting, in the order `--help` lists them: the directory of each root, then the rest.
    static let options: [Option] =
        RootDirectory.allCases.map { root in
            Option(
                variable: root.variable,
                fallbackVariable: root.fallbackVariable,
                flag: root.flag,
                placeholder: "PATH",
                help:
                    "\(root.summary)\(root.agentFiles.map { " (its sessions: \($0))" } ?? ""): an absolute path, which "
                    + "need not exist yet"
                    + (root.acceptsList ? "; a comma-separated list watches each" : "") + " ("
                    + (root.fallbackVariable.map { "else \($0); " } ?? "")
                    + "default \(root.defaultPaths.joined(separator: ",")))"
            ) { config, setting, value throws(ConfigurationError) in
                guard root.acceptsList else {
                    config.directories[root.index] = try directory(setting, value, example: root.defaultPath)
                    config.moreDirectories[root.index] = []
                    return
                }
                let paths = try directories(setting, value)
                config.directories[root.index] = paths[0]
                config.moreDirectories[root.index] = Array(paths.dropFirst())
            }
        } + settings

    /// Every word `ACTIVITY_SOURCES` accepts: the default ones first.
    static let sourceWords =
        (ActivitySource.allCases.filter(\.drivesByDefault)
        + ActivitySource.allCases.filter { !$0.drivesByDefault }).map(\.rawValue)

    private static let settings: [Option] = [
        Option(
            variable: "IDLE_TIMEOUT_MINUTES",
            flag: "--idle-timeout-minutes",
            placeholder: "MINUTES",
            help: "activity younger than this is active: minutes, more than 0 and at most 10080, fractions such as 0.5 "
                + "allowed (default 10)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed =
                "expected a number of minutes greater than 0 and at most 10080 (one week), such as 10 or 0.5"
            config.idleTimeoutMinutes = try number(setting, value, allowed: allowed) {
                $0 > 0 && $0 <= maximumIdleTimeoutMinutes
            }
        },
        Option(
            variable: "METRICS_PORT",
            flag: "--metrics-port",
            placeholder: "PORT",
            help: "TCP port to serve /metrics on, 1 to 65535, or 0 to pick a free port (default 8080)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected a TCP port, an integer from 1 to 65535 (or 0 for any free port)"
            let trimmed = try nonBlank(setting, value, allowed: allowed)
            guard trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let port = Int(trimmed), (0...65535).contains(port)
            else { throw ConfigurationError(setting: setting, value: value, allowed: allowed) }
            config.metricsPort = port
        },
        Option(
            variable: "POD_NAME",
            flag: "--pod-name",
            placeholder: "NAME",
            help: "value of the pod label (default unknown)"
        ) { config, _, value in config.podName = value },
        Option(
            variable: "REPOSITORY_NAME",
            flag: "--repository-name",
            placeholder: "NAME",
            help: "value of the repository label (default unknown)"
        ) { config, _, value in config.repositoryName = value },
        Option(
            variable: "UPDATE_INTERVAL_SECONDS",
            flag: "--update-interval-seconds",
            placeholder: "SECONDS",
            help: "period of the fallback rescan that repairs anything inotify missed, 0.1 to 3600 seconds (default 30)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected a number of seconds from 0.1 to 3600, such as 30"
            config.rescanIntervalSeconds = try number(setting, value, allowed: allowed, rescanIntervalRange.contains)
        },
        Option(
            variable: "DRAIN_QUIET_SECONDS",
            flag: "--drain-quiet-seconds",
            placeholder: "SECONDS",
            help: "/-/drain answers once no session is busy or waiting and the newest activity is this old, 0 to 86400 "
                + "seconds (default 30)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected a number of seconds from 0 to 86400, such as 30"
            config.drainQuietSeconds = try number(setting, value, allowed: allowed, drainQuietRange.contains)
        },
        Option(
            variable: "USAGE_METRICS",
            flag: "--usage-metrics",
            placeholder: "on|off",
            help: "read transcripts for token usage per model (default on; off: no transcript is ever opened)"
        ) { config, setting, value throws(ConfigurationError) in
            switch trimmed(value).lowercased() {
            case "on", "true", "1", "yes": config.usageMetrics = true
            case "off", "false", "0", "no": config.usageMetrics = false
            default: throw ConfigurationError(setting: setting, value: value, allowed: "expected on or off")
            }
        },
        Option(
            variable: "LISTEN_ADDRESS",
            flag: "--listen-address",
            placeholder: "ADDRESS",
            help: "IP address to listen on (default all interfaces: :: dual-stack, else 0.0.0.0)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected an IPv4 or IPv6 address literal such as 127.0.0.1, ::1 or [::1] (no host names)"
            let trimmed = try nonBlank(setting, value, allowed: allowed)
            guard IPAddress.family(of: trimmed) != nil else {
                throw ConfigurationError(setting: setting, value: value, allowed: allowed)
            }
            config.listenAddress = IPAddress.unbracketed(trimmed)
        },
        Option(
            variable: "LOG_LEVEL",
            flag: "--log-level",
            placeholder: "LEVEL",
            help: "debug, info, notice, warning or error (default info)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected one of debug, info, notice, warning, error"
            let levels: [String: Logger.Level] = [
                "debug": .debug, "info": .info, "notice": .notice, "warning": .warning, "error": .error,
            ]
            guard let level = levels[trimmed(value).lowercased()] else {
                throw ConfigurationError(setting: setting, value: value, allowed: allowed)
            }
            config.logLevel = level
        },
        Option(
            variable: "LOG_FORMAT",
            flag: "--log-format",
            placeholder: "FORMAT",
            help: "text or json: the shape of log lines on standard error (default text)"
        ) { config, setting, value throws(ConfigurationError) in
            guard let format = LogFormat(rawValue: trimmed(value).lowercased()) else {
                throw ConfigurationError(setting: setting, value: value, allowed: "expected text or json")
            }
            config.logFormat = format
        },
        Option(
            variable: "ACTIVITY_SOURCES",
            flag: "--activity-sources",
            placeholder: "LIST",
            help: "comma-separated sources that make the agent active: \(sourceWords.joined(separator: ", ")) "
                + "(default \(sourceWords.filter { ActivitySource(rawValue: $0)!.drivesByDefault }.joined(separator: ",")))"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected a comma-separated list of one or more of \(sourceWords.joined(separator: ", "))"
            var sources: Set<ActivitySource> = []
            for word in value.split(separator: ",") {
                let name = trimmed(String(word)).lowercased()
                if name.isEmpty { continue }
                guard let source = ActivitySource(rawValue: name) else {
                    throw ConfigurationError(
                        setting: setting,
                        value: value,
                        allowed: "unknown source \(quoted(name)); \(allowed)"
                    )
                }
                sources.insert(source)
            }
            guard !sources.isEmpty else { throw ConfigurationError(setting: setting, value: value, allowed: allowed) }
            config.activitySources = sources
        },
    ]

    private static func trimmed(_ value: String) -> String {
        var view = Substring(value)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }

    private static func nonBlank(
        _ setting: String,
        _ value: String,
        allowed: String
    ) throws(ConfigurationError) -> String {
        let result = trimmed(value)
        guard !result.isEmpty else { throw ConfigurationError(setting: setting, value: value, allowed: allowed) }
        return result
    }

    /// A finite decimal number (no `nan`, `inf` or hexadecimal forms, which `Double.init` would accept).
    /// A finite decimal number that `accepts` takes, else an error naming the setting, the value and `allowed`.
    private static func number(
        _ setting: String,
        _ value: String,
        allowed: String,
        _ accepts: (Double) -> Bool
    ) throws(ConfigurationError) -> Double {
        let text = try nonBlank(setting, value, allowed: allowed)
        let permitted = text.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "-")
        }
        guard permitted, let number = Double(text), number.isFinite, accepts(number) else {
            throw ConfigurationError(setting: setting, value: value, allowed: allowed)
        }
        return number
    }

    /// At most this many directories in a list setting (each is watched and scanned).
    static let maximumListedDirectories = 16

    /// A comma-separated list of absolute paths (spaces around each allowed), each checked as ``directory(_:_:)``;
    /// the same path twice counts once.
    private static func directories(_ setting: String, _ value: String) throws(ConfigurationError) -> [String] {
        var paths: [String] = []
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            let text = trimmed(String(item))
            guard !text.isEmpty else {
                throw ConfigurationError(
                    setting: setting,
                    value: value,
                    allowed: "expected a comma-separated list of absolute paths without empty entries, such as "
                        + "/home/agent/.claude,/home/agent/.config/claude"
                )
            }
            let path: String
            do {
                path = try directory(setting, text)
            } catch {
                throw ConfigurationError(
                    setting: setting,
                    value: value,
                    allowed: "\(quoted(text)) is not an absolute path; expected a comma-separated list of absolute "
                        + "paths, such as /home/agent/.claude,/home/agent/.config/claude"
                )
            }
            if !paths.contains(path) { paths.append(path) }
        }
        guard paths.count <= maximumListedDirectories else {
            throw ConfigurationError(
                setting: setting,
                value: value,
                allowed: "expected at most \(maximumListedDirectories) directories"
            )
        }
        return paths
    }

    private static func directory(
        _ setting: String,
        _ value: String,
        example: String = RootDirectory.claude.defaultPath
    ) throws(ConfigurationError) -> String {
        guard !value.utf8.contains(0) else {
            throw ConfigurationError(setting: setting, value: value, allowed: "expected a path without NUL bytes")
        }
        // Absolute only: the working directory differs under systemd (/), in a container and in a shell, and a
        // relative or blank value is almost always a mistake that would be awaited forever as "not created yet".
        guard value.hasPrefix("/") else {
            throw ConfigurationError(
                setting: setting,
                value: value,
                allowed: "expected an absolute path (starting with /), such as \(example)"
            )
        }
        var path = value
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
