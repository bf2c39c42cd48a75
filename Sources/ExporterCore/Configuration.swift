import FileWatching
import Logging
import Platform

/// Everything the exporter is told by its environment and command line.
///
/// Built from a dictionary (`init(environment:arguments:)`) so tests never touch the process environment.
/// Variable names, defaults and meanings are a contract with users' Prometheus Adapter and HPA rules.
public struct ExporterConfiguration: Sendable, Equatable {
    /// `CLAUDE_DIR`, else `CLAUDE_CONFIG_DIR`.
    public var claudeDirectory = "/home/agent/.claude"
    /// `HAPPY_DIR`, else `HAPPY_HOME_DIR`.
    public var happyDirectory = "/home/agent/.happy"
    /// `IDLE_TIMEOUT_MINUTES`: activity younger than this makes the agent active.
    public var idleTimeoutMinutes = 10.0
    /// `METRICS_PORT`; 0 asks the kernel for a free port (the log says which).
    public var metricsPort = 8080
    /// `POD_NAME`, the `pod` label.
    public var podName = "unknown"
    /// `REPOSITORY_NAME`, the `repository` label.
    public var repositoryName = "unknown"
    /// `UPDATE_INTERVAL_SECONDS`: the period of the fallback rescan.
    public var rescanIntervalSeconds = 30.0
    /// `LISTEN_ADDRESS`; `nil` means all interfaces (dual-stack `::`, else `0.0.0.0`).
    public var listenAddress: String?
    /// `LOG_LEVEL`.
    public var logLevel = Logger.Level.info
    /// `LOG_FORMAT`: how log lines look on standard error (under systemd the journal gets structured entries).
    public var logFormat = LogFormat.text
    /// `ACTIVITY_SOURCES`: the sources that drive the contract metrics.
    public var activitySources = ActivitySource.defaultDriving
    /// `DRAIN_QUIET_SECONDS`: how long the agent must have been quiet for `/-/drain` to answer.
    public var drainQuietSeconds = 30.0

    public init() {}

    /// The idle timeout in seconds.
    public var idleTimeoutSeconds: Double { idleTimeoutMinutes * 60 }
}

/// The shape of log lines on standard error.
public enum LogFormat: String, Sendable, Equatable {
    /// `2026-11-25T22:49:05.123Z info agent active source=transcripts`.
    case text
    /// One JSON object per line, for Kubernetes log pipelines.
    case json
}

/// What the command line asks for.
public enum Invocation: Sendable, Equatable {
    /// Run the daemon.
    case run(ExporterConfiguration)
    /// Scan once, print the metrics, exit.
    case once(ExporterConfiguration)
    case help
    case version
}

/// A bad setting: names the variable or flag, the value, and what is allowed.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A value that is not allowed: exit status 78 (`EX_CONFIG`).
        case invalidValue
        /// A command line that cannot be understood: exit status 64 (`EX_USAGE`).
        case usage
    }

    public var kind: Kind
    /// The environment variable or flag, e.g. `IDLE_TIMEOUT_MINUTES` or `--idle-timeout-minutes`.
    public var setting: String
    public var value: String
    /// What would have been accepted.
    public var allowed: String

    public init(kind: Kind = .invalidValue, setting: String, value: String, allowed: String) {
        self.kind = kind
        self.setting = setting
        self.value = value
        self.allowed = allowed
    }

    /// `EX_CONFIG` (78) for a bad value, `EX_USAGE` (64) for a bad command line.
    public var exitCode: Int32 { kind == .usage ? 64 : 78 }

    public var description: String {
        switch kind {
        case .invalidValue:
            "invalid \(setting)=\(quoted(value)): \(allowed)"
        case .usage:
            value.isEmpty ? "\(setting): \(allowed)" : "\(setting) \(quoted(value)): \(allowed)"
        }
    }
}

/// Quotes a value for a message, making control characters visible.
func quoted(_ value: String) -> String { Quoting.quoted(value) }

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

    /// Every setting, in the order `--help` lists them.
    static let options: [Option] = [
        Option(
            variable: "CLAUDE_DIR",
            fallbackVariable: "CLAUDE_CONFIG_DIR",
            flag: "--claude-dir",
            placeholder: "PATH",
            help: "Claude Code's directory (default /home/agent/.claude; else CLAUDE_CONFIG_DIR)"
        ) { config, setting, value throws(ConfigurationError) in
            config.claudeDirectory = try directory(setting, value)
        },
        Option(
            variable: "HAPPY_DIR",
            fallbackVariable: "HAPPY_HOME_DIR",
            flag: "--happy-dir",
            placeholder: "PATH",
            help: "Happy CLI's directory (default /home/agent/.happy; else HAPPY_HOME_DIR)"
        ) { config, setting, value throws(ConfigurationError) in
            config.happyDirectory = try directory(setting, value)
        },
        Option(
            variable: "IDLE_TIMEOUT_MINUTES",
            flag: "--idle-timeout-minutes",
            placeholder: "MINUTES",
            help: "activity younger than this is active (default 10; fractions such as 0.5 allowed)"
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
            help: "TCP port to serve /metrics on (default 8080; 0 picks a free port)"
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
            help: "period of the fallback rescan that repairs anything inotify missed (default 30)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected a number of seconds from 0.1 to 3600, such as 30"
            config.rescanIntervalSeconds = try number(setting, value, allowed: allowed, rescanIntervalRange.contains)
        },
        Option(
            variable: "DRAIN_QUIET_SECONDS",
            flag: "--drain-quiet-seconds",
            placeholder: "SECONDS",
            help: "/-/drain answers once no session is busy or waiting and the newest activity is this old (default 30)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed = "expected a number of seconds from 0 to 86400, such as 30"
            config.drainQuietSeconds = try number(setting, value, allowed: allowed, drainQuietRange.contains)
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
            help: "comma-separated sources that make the agent active: transcripts, history, status, "
                + "happy_logs (default transcripts,history,status)"
        ) { config, setting, value throws(ConfigurationError) in
            let allowed =
                "expected a comma-separated list of one or more of transcripts, history, status, happy_logs"
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

    private static func directory(_ setting: String, _ value: String) throws(ConfigurationError) -> String {
        guard !value.utf8.contains(0) else {
            throw ConfigurationError(setting: setting, value: value, allowed: "expected a path without NUL bytes")
        }
        // Absolute only: the working directory differs under systemd (/), in a container and in a shell, and a
        // relative or blank value is almost always a mistake that would be awaited forever as "not created yet".
        guard value.hasPrefix("/") else {
            throw ConfigurationError(
                setting: setting,
                value: value,
                allowed: "expected an absolute path (starting with /), such as /home/agent/.claude"
            )
        }
        var path = value
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// Builds the configuration from `environment`, with `flags` (from the command line) taking precedence.
    /// A variable set to the empty string counts as unset, as `VAR=` does in a shell or `value: ""` in Kubernetes.
    public init(environment: [String: String], flags: [String: String] = [:]) throws(ConfigurationError) {
        self.init()
        for option in Self.options {
            let setting: String
            let value: String
            if let flagValue = flags[option.flag] {
                (setting, value) = (option.flag, flagValue)
            } else if let envValue = environment[option.variable], !envValue.isEmpty {
                (setting, value) = (option.variable, envValue)
            } else if let fallback = option.fallbackVariable, let envValue = environment[fallback], !envValue.isEmpty {
                (setting, value) = (fallback, envValue)
            } else {
                continue
            }
            try option.apply(&self, setting, value)
        }
    }

    /// Parses the command line (without the program name) and the environment.
    public static func parse(
        arguments: [String],
        environment: [String: String]
    ) throws(ConfigurationError) -> Invocation {
        var flags: [String: String] = [:]
        var once = false
        var index = 0
        let known = Set(options.map(\.flag))
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "-h", "--help": return .help
            case "--version": return .version
            case "--once":
                once = true
                continue
            default: break
            }
            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            guard known.contains(name) else {
                throw ConfigurationError(
                    kind: .usage,
                    setting: "unknown option",
                    value: argument,
                    allowed: "see --help for the options"
                )
            }
            if value == nil {
                guard index < arguments.count else {
                    throw ConfigurationError(kind: .usage, setting: name, value: "", allowed: "needs a value")
                }
                value = arguments[index]
                index += 1
            }
            flags[name] = value
        }
        let configuration = try ExporterConfiguration(environment: environment, flags: flags)
        return once ? .once(configuration) : .run(configuration)
    }

    /// Checks that each directory, if it exists, is a directory. A directory that does not exist yet is fine:
    /// the agent has not started, and the exporter picks it up when it appears.
    public func checkDirectories(using fileSystem: some FileSystem) throws(ConfigurationError) {
        for (variable, path) in [("CLAUDE_DIR", claudeDirectory), ("HAPPY_DIR", happyDirectory)] {
            guard let status = try? fileSystem.status(of: path) else { continue }
            if status.kind != .directory {
                throw ConfigurationError(
                    setting: variable,
                    value: path,
                    allowed: "it exists but is not a directory; expected a directory (it need not exist yet)"
                )
            }
        }
    }

    /// The `--help` text.
    public static var helpText: String {
        var text = """
            claude-metrics-exporter: tells Prometheus whether a Claude Code agent is busy or idle.

            Usage: claude-metrics-exporter [options]

            Every option can also be given as an environment variable; an option on the command line wins.

            Options:

            """
        for option in options {
            let left = "  \(option.flag) \(option.placeholder)"
            let padding = String(repeating: " ", count: max(1, 38 - left.count))
            text += left + padding + option.help + "\n"
            text += String(repeating: " ", count: 38) + "env: \(option.variable)\n"
        }
        text += """
              --once                              scan once, print the metrics to stdout and exit
              --version                           print the version and exit
              -h, --help                          print this help and exit

            Endpoints: GET /metrics (Prometheus text format), GET /health, GET /.
            Exit status: 0 on SIGTERM/SIGINT, 64 for a bad command line, 78 for a bad setting, 1 on a fatal error.

            """
        return text
    }
}
