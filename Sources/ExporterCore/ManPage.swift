/// `claude-metrics-exporter(1)`, written from the same table as `--help` (``ExporterConfiguration/options``) and the
/// same source and root declarations, so that the two cannot drift apart. `make man` prints it with
/// `Tools/man-page`; the Debian package and the release archive ship it.
extension ExporterConfiguration {
    /// The manual page in roff (`man(7)` macros).
    public static func manPage(version: String, date: String) -> String {
        var page = """
            .TH CLAUDE-METRICS-EXPORTER 1 "\(date)" "claude-metrics-exporter \(version)" "User Commands"
            .SH NAME
            claude-metrics-exporter \\- tell Prometheus whether a coding agent is busy or idle
            .SH SYNOPSIS
            .B claude-metrics-exporter
            .RI [ options ]
            .br
            .B claude-metrics-exporter \\-\\-once
            .RI [ options ]
            .SH DESCRIPTION
            .B claude-metrics-exporter
            watches the directories where Claude Code, Happy, Codex CLI and Gemini CLI keep their sessions (with
            inotify, and a periodic rescan that repairs anything it missed) and serves Prometheus metrics over HTTP:
            whether the agent is active, when it last was, its sessions, the live status of Claude Code's sessions,
            and the tokens its transcripts record.
            It reads only the files named below and never writes into the directories it watches.
            .PP
            Every option can also be given as an environment variable; an option on the command line wins.
            A variable set to the empty string counts as unset.
            A bad value stops the exporter at startup with a message naming the variable, the value and what is
            allowed.
            .SH OPTIONS

            """
        for option in options {
            page += ".TP\n.BI \(roff(option.flag)) \" \(roff(option.placeholder))\"\n"
            page += roff(sentence(option.help)) + "\n"
            page += ".br\nEnvironment: \\fB\(roff(option.variable))\\fR"
            if let fallback = option.fallbackVariable {
                page += " (else \\fB\(roff(fallback))\\fR)"
            }
            page += ".\n"
        }
        page += """
            .TP
            .B \\-\\-once
            Scan once, print the metrics to standard output and exit (only warnings are logged).
            .TP
            .B \\-\\-version
            Print the version and exit.
            .TP
            .BR \\-h ", " \\-\\-help
            Print the options and exit.
            .SH ACTIVITY SOURCES
            The sources that
            .B ACTIVITY_SOURCES
            names (the default ones are marked):
            .RS

            """
        for source in ActivitySource.allCases {
            page += ".TP\n.B \(roff(source.rawValue))\n"
            page += "Under \\fB\(roff(source.root.variable))\\fR: \(roff(describe(source.layout)))"
            page += source.drivesByDefault ? " (default).\n" : ".\n"
        }
        page += """
            .RE
            .SH ENDPOINTS
            .TP
            .B GET /metrics
            The Prometheus text format 0.0.4 (gzip when asked).
            .TP
            .B GET /health\\fR, \\fBGET /-/healthy
            200 while the directories can be read and the exporter is alive, else 503.
            .TP
            .B GET /-/ready
            200 once serving (the first scan is done).
            .TP
            .B GET /
            A status page for people.
            .TP
            .B GET /-/drain\\fR[\\fB?timeout=\\fISECONDS\\fR]
            Answers 200 once the agent is between turns (a preStop hook); 503 when the timeout passes.
            .SH EXIT STATUS
            .TP
            .B 0
            Stopped by SIGTERM or SIGINT, or
            .B \\-\\-once
            and
            .B \\-\\-help
            done.
            .TP
            .B 1
            A fatal error at run time, such as the port being in use.
            .TP
            .B 64
            An unknown option or a missing option value (EX_USAGE).
            .TP
            .B 78
            A bad setting (EX_CONFIG).
            .SH SIGNALS
            .TP
            .BR SIGTERM ", " SIGINT
            Stop: requests in flight get their grace period, then the exporter exits 0.
            .TP
            .B SIGHUP
            Watch and scan everything again (after mounts changed, say).
            .SH FILES
            .TP
            .I /etc/default/claude-metrics-exporter
            Settings for the systemd units, as
            .IB VARIABLE = value
            lines.

            """
        for root in RootDirectory.allCases {
            page += ".TP\n.I \(roff(root.defaultPaths.joined(separator: ", ")))\n"
            page += "\(roff(root.summary)), by default (\\fB\(roff(root.variable))\\fR).\n"
        }
        page += """
            .SH ENVIRONMENT
            Besides the variables of the options:
            .TP
            .B NOTIFY_SOCKET\\fR, \\fBWATCHDOG_USEC\\fR, \\fBLISTEN_FDS
            Set by systemd: readiness, status and watchdog notifications, and socket activation.
            .SH EXAMPLES
            Run for the user alice under systemd (the Debian package installs the units):
            .PP
            .RS
            .nf
            systemctl enable \\-\\-now claude\\-metrics\\-exporter@alice
            systemctl status claude\\-metrics\\-exporter@alice
            curl \\-s http://127.0.0.1:8080/metrics | grep ^claude_session_active
            .fi
            .RE
            .PP
            Print one scrape of your own directories:
            .PP
            .RS
            .nf
            CLAUDE_DIR=$HOME/.claude claude\\-metrics\\-exporter \\-\\-once
            .fi
            .RE
            .PP
            Listen on loopback only, with a shorter idle timeout:
            .PP
            .RS
            .nf
            claude\\-metrics\\-exporter \\-\\-listen\\-address 127.0.0.1 \\-\\-idle\\-timeout\\-minutes 5
            .fi
            .RE
            .SH SEE ALSO
            .BR systemctl (1),
            .BR journalctl (1),
            .BR systemd.service (5),
            .BR prometheus (1),
            .BR inotify (7)
            .PP
            The README (\\fI/usr/share/doc/claude\\-metrics\\-exporter/README.md\\fR) has the metrics, what counts as
            activity, and the Kubernetes and KEDA set-ups.

            """
        return page
    }

    /// Escapes text for roff: backslashes, and hyphens as `\-` (so that they copy as hyphens); a line starting with
    /// `.` or `'` is protected.
    private static func roff(_ text: String) -> String {
        var out = text.replacingAll("\\", with: "\\e").replacingAll("-", with: "\\-")
        if out.hasPrefix(".") || out.hasPrefix("'") { out = "\\&" + out }
        return out
    }

    private static func sentence(_ text: String) -> String { text.hasSuffix(".") ? text : text + "." }

    private static func describe(_ layout: SourceLayout) -> String {
        switch layout {
        case .claudeProjects: "the session transcripts, projects/<slug>/*.jsonl and their subagents'"
        case .sessionRegistry: "the live session registry, sessions/<pid>.json"
        case .happyProcesses: "the thinking state logged in logs/<date-time>-pid-<pid>.log by live Happy processes"
        case .files(let pattern): pattern.description
        }
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
