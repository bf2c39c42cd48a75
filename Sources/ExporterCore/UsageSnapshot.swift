import Platform
import TokenUsage

/// What the transcripts have spent, as published for scrapes: counters per model, skipped lines, and the context
/// size of each live session. ``ready`` is false until the history has been read.
public struct UsageSnapshot: Sendable, Equatable {
    public struct Model: Sendable, Equatable {
        public var name: String
        public var usage: UsageLedger.ModelUsage
    }

    /// Whether reading the history is finished; the usage families are rendered only then.
    public var ready = false
    /// Counters per model, sorted by name.
    public var models: [Model] = []
    /// Lines skipped, by ``UsageLine/SkipReason`` (in `allCases` order).
    public var skipped = [UInt64](repeating: 0, count: UsageLine.SkipReason.allCases.count)
    /// Context tokens of the newest response of each live session's transcript, by session id.
    public var liveContexts: [String: UInt64] = [:]
    /// Transcripts followed, bytes read, responses counted.
    public var files = 0
    public var bytesRead: UInt64 = 0
    public var responses = 0

    public init() {}
}

/// Where the ``UsageTracker`` publishes and scrapes read, without waiting for the tracker.
public final class UsageStore: Sendable {
    private let current = Locked(UsageSnapshot())

    public init() {}

    public var snapshot: UsageSnapshot { current.withLock { $0 } }

    func publish(_ snapshot: UsageSnapshot) { current.withLock { $0 = snapshot } }
}

/// What the activity side tells the usage side.
public enum TranscriptNotice: Sendable, Equatable {
    /// These transcripts changed (inotify).
    case changed([String])
    /// Events may have been missed (overflow, reload, a deep rescan): look at every transcript.
    case repair
    /// The session ids of the live registry entries (their context size is published).
    case liveSessions(Set<String>)
}

/// Where the activity side leaves notices for the usage reader, merged while the reader is busy (a long history
/// read, say): changed paths as a set, one repair flag, the latest live sessions. Its memory is bounded by the
/// number of transcripts, never by the number of events; ``wakeUps`` says there is something to take.
public final class TranscriptInbox: Sendable {
    private struct Pending {
        var paths: [String] = []
        var known: Set<String> = []
        var repair = false
        var live: Set<String>?
    }

    private let pending = Locked(Pending())
    private let wake: AsyncStream<Void>.Continuation
    /// One element whenever notices arrived since the last ``take()`` (at most one waits).
    public let wakeUps: AsyncStream<Void>

    public init() {
        (wakeUps, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func post(_ notice: TranscriptNotice) {
        pending.withLock { pending in
            switch notice {
            case .changed(let paths):
                for path in paths where pending.known.insert(path).inserted { pending.paths.append(path) }
            case .repair:
                pending.repair = true
            case .liveSessions(let sessions):
                pending.live = sessions
            }
        }
        wake.yield()
    }

    /// Everything posted since the last call, merged.
    public func take() -> [TranscriptNotice] {
        pending.withLock { pending in
            defer { pending = Pending() }
            var notices: [TranscriptNotice] = []
            if let live = pending.live { notices.append(.liveSessions(live)) }
            // A repair reads every transcript: the changed ones with it.
            if pending.repair {
                notices.append(.repair)
            } else if !pending.paths.isEmpty {
                notices.append(.changed(pending.paths))
            }
            return notices
        }
    }

    /// Ends ``wakeUps``.
    public func finish() { wake.finish() }
}
