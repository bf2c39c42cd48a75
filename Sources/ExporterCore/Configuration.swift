import FileWatching
import Logging
import Platform

/// Everything the exporter is told by its environment and command line.
///
/// Built from a dictionary (`init(environment:arguments:)`) so tests never touch the process environment.
/// Variable names, defaults and meanings are a contract with users' Prometheus Adapter and HPA rules.
public struct ExporterConfiguration: Sendable, Equatable {
    /// The path of each ``RootDirectory`` (by its index): `CLAUDE_DIR` (else `CLAUDE_CONFIG_DIR`), `HAPPY_DIR`
    /// (else `HAPPY_HOME_DIR`), ...
    public var directories = RootDirectory.allCases.map(\.defaultPath)
    /// The directories of a root whose setting is a list (``RootDirectory/acceptsList``) after the first, by root
    /// index: `CLAUDE_DIR=/a,/b` is `/a` in ``directories`` and `[/b]` here.
    public var moreDirectories = RootDirectory.allCases.map { Array($0.defaultPaths.dropFirst()) }
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
    /// Whether transcripts are read for token usage (`USAGE_METRICS`); off, no transcript is ever opened.
    public var usageMetrics = true

    public init() {}

    public func directory(of root: RootDirectory) -> String { directories[root.index] }

    /// Every directory of `root` (one, but for a root whose setting is a list).
    public func allDirectories(of root: RootDirectory) -> [String] {
        [directories[root.index]] + moreDirectories[root.index]
    }

    /// The directories of each root as a person reads them (a list joined by commas), by root index.
    public var directoriesForDisplay: [String] {
        RootDirectory.allCases.map { allDirectories(of: $0).joined(separator: ",") }
    }

    /// `CLAUDE_DIR`.
    public var claudeDirectory: String {
        get { directories[RootDirectory.claude.index] }
        set { directories[RootDirectory.claude.index] = newValue }
    }

    /// `HAPPY_DIR`.
    public var happyDirectory: String {
        get { directories[RootDirectory.happy.index] }
        set { directories[RootDirectory.happy.index] = newValue }
    }

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
        for root in RootDirectory.allCases {
            for path in allDirectories(of: root) {
                try check(path, variable: root.variable, using: fileSystem)
            }
        }
    }

    private func check(_ path: String, variable: String, using fileSystem: some FileSystem) throws(ConfigurationError) {
        guard let status = try? fileSystem.status(of: path), status.kind != .directory else { return }
        throw ConfigurationError(
            setting: variable,
            value: path,
            allowed: "it exists but is not a directory; expected a directory (it need not exist yet)"
        )
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

            Endpoints: GET /metrics (Prometheus text format), GET /health, GET / (a status page), GET /-/drain
            (answers once the agent is between turns: a preStop hook), GET /-/healthy, GET /-/ready.
            Exit status: 0 on SIGTERM/SIGINT, 64 for a bad command line, 78 for a bad setting, 1 on a fatal error.

            """
        return text
    }
}
