import Logging
import Testing

@testable import ExporterCore

@Suite("Configuration from environment and flags")
struct ConfigurationTests {
    @Test("Defaults match the original design")
    func defaults() throws {
        let configuration = try ExporterConfiguration(environment: [:])
        #expect(configuration.claudeDirectory == "/home/agent/.claude")
        #expect(configuration.happyDirectory == "/home/agent/.happy")
        #expect(configuration.idleTimeoutMinutes == 10)
        #expect(configuration.metricsPort == 8080)
        #expect(configuration.podName == "unknown")
        #expect(configuration.repositoryName == "unknown")
        #expect(configuration.rescanIntervalSeconds == 30)
        #expect(configuration.listenAddress == nil)
        #expect(configuration.logLevel == .info)
        #expect(configuration.activitySources == [.transcripts, .history, .status, .happyState, .codex, .gemini])
        #expect(configuration.drainQuietSeconds == 30)
    }

    @Test("Every variable is read")
    func variables() throws {
        let configuration = try ExporterConfiguration(environment: [
            "CLAUDE_DIR": "/c/", "HAPPY_DIR": "/h", "IDLE_TIMEOUT_MINUTES": "0.5", "METRICS_PORT": "9100",
            "POD_NAME": "agent-0", "REPOSITORY_NAME": "org/repo", "UPDATE_INTERVAL_SECONDS": "5",
            "LISTEN_ADDRESS": "[::1]", "LOG_LEVEL": "DEBUG", "ACTIVITY_SOURCES": " transcripts , happy_logs ,",
            "DRAIN_QUIET_SECONDS": "0",
        ])
        #expect(configuration.drainQuietSeconds == 0)
        #expect(configuration.claudeDirectory == "/c")
        #expect(configuration.happyDirectory == "/h")
        #expect(configuration.idleTimeoutSeconds == 30)
        #expect(configuration.metricsPort == 9100)
        #expect(configuration.podName == "agent-0")
        #expect(configuration.repositoryName == "org/repo")
        #expect(configuration.rescanIntervalSeconds == 5)
        #expect(configuration.listenAddress == "::1")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.activitySources == [.transcripts, .happyLogs])
    }

    @Test("CLAUDE_CONFIG_DIR and HAPPY_HOME_DIR are fallbacks; empty values count as unset")
    func fallbacks() throws {
        var configuration = try ExporterConfiguration(environment: [
            "CLAUDE_CONFIG_DIR": "/cfg", "HAPPY_HOME_DIR": "/hh", "POD_NAME": "",
        ])
        #expect(configuration.claudeDirectory == "/cfg")
        #expect(configuration.happyDirectory == "/hh")
        #expect(configuration.podName == "unknown")
        configuration = try ExporterConfiguration(environment: ["CLAUDE_DIR": "/c", "CLAUDE_CONFIG_DIR": "/cfg"])
        #expect(configuration.claudeDirectory == "/c")
    }

    @Test("Flags win over the environment; both --flag value and --flag=value work")
    func flagsWin() throws {
        let invocation = try ExporterConfiguration.parse(
            arguments: ["--metrics-port", "9000", "--pod-name=p1", "--once"],
            environment: ["METRICS_PORT": "8000", "POD_NAME": "p0"]
        )
        guard case .once(let configuration) = invocation else {
            Issue.record("expected --once, got \(invocation)")
            return
        }
        #expect(configuration.metricsPort == 9000)
        #expect(configuration.podName == "p1")
    }

    @Test("--help and --version")
    func helpAndVersion() throws {
        #expect(try ExporterConfiguration.parse(arguments: ["--help"], environment: [:]) == .help)
        #expect(try ExporterConfiguration.parse(arguments: ["-h"], environment: [:]) == .help)
        #expect(try ExporterConfiguration.parse(arguments: ["--version"], environment: [:]) == .version)
        for option in ExporterConfiguration.options {
            #expect(ExporterConfiguration.helpText.contains(option.flag))
            #expect(ExporterConfiguration.helpText.contains(option.variable))
        }
    }

    @Test(
        "Bad values name the variable, the value and what is allowed, and exit 78",
        arguments: [
            ("IDLE_TIMEOUT_MINUTES", "abc", "greater than 0"),
            ("IDLE_TIMEOUT_MINUTES", "-1", "greater than 0"),
            ("IDLE_TIMEOUT_MINUTES", "0", "greater than 0"),
            ("IDLE_TIMEOUT_MINUTES", "nan", "greater than 0"),
            ("IDLE_TIMEOUT_MINUTES", "inf", "greater than 0"),
            ("IDLE_TIMEOUT_MINUTES", "1e9", "at most 10080"),
            ("IDLE_TIMEOUT_MINUTES", "0x10", "such as 10 or 0.5"),
            ("IDLE_TIMEOUT_MINUTES", "   ", "greater than 0"),
            ("METRICS_PORT", "80a", "from 1 to 65535"),
            ("METRICS_PORT", "65536", "from 1 to 65535"),
            ("METRICS_PORT", "-1", "from 1 to 65535"),
            ("METRICS_PORT", "1.5", "from 1 to 65535"),
            ("UPDATE_INTERVAL_SECONDS", "0", "from 0.1 to 3600"),
            ("UPDATE_INTERVAL_SECONDS", "x", "from 0.1 to 3600"),
            ("UPDATE_INTERVAL_SECONDS", "100000", "from 0.1 to 3600"),
            ("DRAIN_QUIET_SECONDS", "-1", "from 0 to 86400"),
            ("DRAIN_QUIET_SECONDS", "86401", "from 0 to 86400"),
            ("DRAIN_QUIET_SECONDS", "nan", "from 0 to 86400"),
            ("DRAIN_QUIET_SECONDS", "soon", "from 0 to 86400"),
            ("LISTEN_ADDRESS", "localhost", "address literal"),
            ("LISTEN_ADDRESS", "1.2.3", "address literal"),
            ("LOG_LEVEL", "verbose", "debug, info, notice, warning, error"),
            ("LOG_FORMAT", "xml", "expected text or json"),
            ("ACTIVITY_SOURCES", "transcripts,bogus", "unknown source \"bogus\""),
            (
                "ACTIVITY_SOURCES", ",",
                "one or more of transcripts, history, status, happy_state, codex, gemini, happy_logs"
            ),
            (
                "ACTIVITY_SOURCES", "   ",
                "one or more of transcripts, history, status, happy_state, codex, gemini, happy_logs"
            ),
            ("METRICS_PORT", "   ", "from 1 to 65535"),
            ("METRICS_PORT", "99999999999999999999", "from 1 to 65535"),
            ("METRICS_PORT", "nan", "from 1 to 65535"),
            ("UPDATE_INTERVAL_SECONDS", "-5", "from 0.1 to 3600"),
            ("UPDATE_INTERVAL_SECONDS", "nan", "from 0.1 to 3600"),
            ("UPDATE_INTERVAL_SECONDS", "inf", "from 0.1 to 3600"),
            ("UPDATE_INTERVAL_SECONDS", "   ", "from 0.1 to 3600"),
            ("IDLE_TIMEOUT_MINUTES", "-inf", "greater than 0"),
            ("LISTEN_ADDRESS", "   ", "address literal"),
            ("LOG_LEVEL", "   ", "debug, info, notice, warning, error"),
            ("CLAUDE_DIR", "   ", "absolute path"),
            ("CLAUDE_DIR", "relative/.claude", "absolute path"),
            ("CLAUDE_CONFIG_DIR", "~/.claude", "absolute path"),
            ("HAPPY_DIR", ".happy", "absolute path"),
            ("HAPPY_HOME_DIR", "x", "absolute path"),
        ]
    )
    func badValues(variable: String, value: String, allowed: String) {
        #expect {
            try ExporterConfiguration(environment: [variable: value])
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.exitCode == 78 && error.setting == variable && error.value == value
                && error.description.contains(variable) && error.description.contains(allowed)
        }
    }

    @Test("A bad flag value names the flag")
    func badFlag() {
        #expect(throws: ConfigurationError.self) {
            try ExporterConfiguration.parse(arguments: ["--metrics-port", "x"], environment: [:])
        }
        do {
            _ = try ExporterConfiguration.parse(arguments: ["--metrics-port=x"], environment: [:])
        } catch {
            #expect(
                error.description
                    == "invalid --metrics-port=\"x\": expected a TCP port, an integer from 1 to 65535 (or 0 for any free port)"
            )
        }
    }

    @Test("Unknown options and missing values are usage errors (exit 64)")
    func usage() {
        for arguments in [["--bogus"], ["--metrics-port"], ["positional"]] {
            do {
                _ = try ExporterConfiguration.parse(arguments: arguments, environment: [:])
                Issue.record("\(arguments) was accepted")
            } catch {
                #expect(error.exitCode == 64)
            }
        }
    }

    @Test("Control characters in a value are shown escaped")
    func escapedValue() {
        do {
            _ = try ExporterConfiguration(environment: ["LOG_LEVEL": "a\nb\u{1}"])
        } catch {
            #expect(error.description.contains(#""a\nb\u{1}""#))
        }
    }

    @Test("A directory that exists but is a file is an error; a missing one is fine")
    func directoryIsAFile() throws {
        let fileSystem = FakeFileSystem()
        fileSystem.addFile("/home/agent/.claude")
        var configuration = ExporterConfiguration()
        #expect(throws: ConfigurationError.self) { try configuration.checkDirectories(using: fileSystem) }
        configuration.claudeDirectory = "/missing/.claude"
        try configuration.checkDirectories(using: fileSystem)
    }
}
