import Platform

/// The page at `/`: what a person checking on an agent wants at a glance. Plain HTML with a little inline CSS,
/// no JavaScript, readable on a phone; it refreshes itself every 10 seconds.
public enum StatusPage {
    /// What the page shows besides the snapshot.
    public struct Context: Sendable {
        /// `POD_NAME` and `REPOSITORY_NAME`; `nil` when not set.
        public var podName: String?
        public var repositoryName: String?
        public var idleTimeoutSeconds: Double
        public var drivingSources: Set<ActivitySource>
        /// The path of each ``RootDirectory``, by index.
        public var directories: [String]
        public var version: String
        public var revision: String

        public init(
            podName: String?,
            repositoryName: String?,
            idleTimeoutSeconds: Double,
            drivingSources: Set<ActivitySource>,
            directories: [String],
            version: String,
            revision: String
        ) {
            self.podName = podName
            self.repositoryName = repositoryName
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.drivingSources = drivingSources
            self.directories = directories
            self.version = version
            self.revision = revision
        }
    }

    public static func html(_ snapshot: ActivitySnapshot, at now: Timestamp, _ context: Context) -> String {
        let status = snapshot.status(
            at: now,
            idleTimeoutSeconds: context.idleTimeoutSeconds,
            sources: context.drivingSources
        )
        var body = ""
        let who =
            switch (context.podName, context.repositoryName) {
            case (let pod?, let repository?): "Agent \(escape(pod)) (\(escape(repository)))"
            case (let pod?, nil): "Agent \(escape(pod))"
            case (nil, let repository?): "The agent of \(escape(repository))"
            case (nil, nil): "The agent"
            }
        let state = status.active ? "active" : "idle"
        var since = ""
        if let source = status.source {
            since =
                status.active && status.secondsSince == 0
                ? " (\(escape(source.rawValue)) says so now)"
                : ": last activity \(StatusLine.age(status.secondsSince)) (\(escape(source.rawValue)))"
        } else {
            since = ": no activity seen yet"
        }
        body += "<h1 class=\"\(state)\">\(who) is \(state)\(since)</h1>\n"
        if context.podName == nil { body += "<p class=\"note\">POD_NAME is not set.</p>\n" }
        for root in StatusLine.missingRoots(snapshot, sources: context.drivingSources)
        where root.index < context.directories.count {
            body += "<p class=\"warn\">\(escape(root.waitingMessage(path: context.directories[root.index]))).</p>\n"
        }
        if !snapshot.healthy {
            body += "<p class=\"warn\">Unhealthy: the Claude directory exists but cannot be read, or the exporter "
            body += "has stopped answering (see /health).</p>\n"
        }

        body += "<h2>Activity by source</h2>\n<table>\n<tr><th>source</th><th>last activity</th><th>files</th>"
        body += "<th>drives active</th></tr>\n"
        for source in ActivitySource.allCases {
            let age: String
            if source == .status && snapshot.statusActive {
                age = "now"
            } else if let activity = snapshot.newest[source] {
                age = StatusLine.age(now.seconds(since: activity.time))
            } else {
                age = "none yet"
            }
            body += "<tr><td>\(escape(source.rawValue))</td><td>\(age)</td><td>\(snapshot.files[source])</td>"
            body += "<td>\(context.drivingSources.contains(source) ? "yes" : "no")</td></tr>\n"
        }
        body += "</table>\n<p>\(snapshot.sessions) session transcript\(snapshot.sessions == 1 ? "" : "s").</p>\n"

        body += "<h2>Live Claude Code sessions</h2>\n"
        if snapshot.liveSessions.isEmpty {
            body += "<p>No live Claude Code process in the session registry.</p>\n"
        } else {
            body += "<table>\n<tr><th>pid</th><th>status</th><th>working directory</th><th>session</th></tr>\n"
            for session in snapshot.liveSessions {
                body += "<tr><td>\(session.pid)</td><td><b>\(escape(session.rawStatus))</b></td>"
                body +=
                    "<td class=\"p\">\(escape(session.cwd))</td><td class=\"p\">\(escape(session.sessionID))</td></tr>\n"
            }
            body += "</table>\n"
        }

        body += "<h2>Live Happy processes</h2>\n"
        if snapshot.happyProcesses.isEmpty {
            body += "<p>No live Happy process.</p>\n"
        } else {
            body += "<table>\n<tr><th>pid</th><th>state</th><th>mode</th><th>log</th></tr>\n"
            for process in snapshot.happyProcesses {
                body += "<tr><td>\(process.pid)</td><td><b>\(process.thinking ? "thinking" : "idle")</b></td>"
                body += "<td>\(escape(process.mode))</td><td class=\"p\">\(escape(process.log))</td></tr>\n"
            }
            body += "</table>\n"
        }

        body += "<h2>Watched directories</h2>\n<table>\n<tr><th>setting</th><th>path</th><th>state</th></tr>\n"
        // Each directory of a list on its own row (the tracker's snapshot says which exist); before the first
        // publication, the settings.
        let states =
            !snapshot.directoryStates.isEmpty
            ? snapshot.directoryStates
            : RootDirectory.allCases.filter { $0.index < context.directories.count }.map { root in
                .init(
                    root: root,
                    path: context.directories[root.index],
                    present: snapshot.directoriesPresent[root.index]
                )
            }
        for state in states {
            body += "<tr><td>\(state.root.variable)</td><td class=\"p\">\(escape(state.path))</td>"
            body += "<td>\(state.present ? "present" : "waiting for it to be created")</td></tr>\n"
        }
        body += "</table>\n"
        body += "<p>\(snapshot.watches) inotify watches, \(snapshot.watchErrors) watch errors, "
        body +=
            "\(snapshot.overflows) queue overflows, \(snapshot.rescans) full scan\(snapshot.rescans == 1 ? "" : "s") "
        body += "(the last took \(Int((snapshot.lastScanDuration * 1000).rounded())) ms).</p>\n"

        body += "<p><a href=\"/metrics\">/metrics</a> (Prometheus) · <a href=\"/health\">/health</a> · "
        body += "claude-metrics-exporter \(escape(context.version)) (\(escape(context.revision))); "
        body += "settings: <code>claude-metrics-exporter --help</code>; documentation: its README.md.</p>\n"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="refresh" content="10">
            <title>\(who) is \(state) · claude-metrics-exporter</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:1em;max-width:60em;line-height:1.4}
            h1{font-size:1.3em}h1.active{color:#1a7f37}h1.idle{color:#57606a}h2{font-size:1.05em;margin-top:1.4em}
            table{border-collapse:collapse;display:block;overflow-x:auto}
            td,th{border-bottom:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
            td.p{word-break:break-all;font-family:ui-monospace,monospace;font-size:.9em}
            .warn{background:#fff8c5;padding:.4em}.note{color:#57606a}
            </style></head>
            <body>
            \(body)</body></html>

            """
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
