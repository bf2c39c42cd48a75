import Platform

/// The recent bounded folders a ``PatternScanner`` watches (Codex days, Gemini projects), at most ``capacity`` of
/// them: which ones, and which one makes room for a newcomer that ranks higher. Plain state; the scanner adds and
/// removes the watches.
///
/// A folder that holds a session file ranks before an empty one (folders made empty cannot push sessions out),
/// then the more recent.
struct RecentFolders {
    struct Rank: Comparable {
        var holdsFiles: Bool
        var time: Timestamp

        static func < (a: Rank, b: Rank) -> Bool { (a.holdsFiles ? 1 : 0, a.time) < (b.holdsFiles ? 1 : 0, b.time) }
    }

    /// What ``admit(_:_:)`` decided.
    enum Admission: Equatable {
        /// Watched (it was, or there was room).
        case admitted
        /// Watched in place of `letGo`, the least, which is no longer one of them.
        case replacing(letGo: String)
        /// Not watched: every one of them ranks at least as high.
        case refused
    }

    let capacity: Int
    private var ranks: [String: Rank] = [:] {
        didSet { least = nil }
    }
    /// The least of ``ranks`` (recomputed only after they changed): what a newcomer must beat.
    private var least: (folder: String, rank: Rank)??

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { ranks.count }

    func contains(_ folder: String) -> Bool { ranks[folder] != nil }

    /// Whether `folder`, ranked `rank`, is one of them: it is already (its rank raised if need be), there is room,
    /// or it ranks above the least, which it replaces.
    mutating func admit(_ folder: String, _ rank: Rank) -> Admission {
        if let held = ranks[folder] {
            if held < rank { ranks[folder] = rank }
            return .admitted
        }
        if ranks.count < capacity {
            ranks[folder] = rank
            return .admitted
        }
        if least == nil { least = .some(ranks.min { $0.value < $1.value }.map { ($0.key, $0.value) }) }
        guard let least = least ?? nil, least.rank < rank else { return .refused }
        ranks[least.folder] = nil
        ranks[folder] = rank
        return .replacing(letGo: least.folder)
    }

    /// A session file below `folder` changed at `time`: its rank rises (if it is one of them).
    mutating func noteFile(in folder: String, at time: Timestamp) {
        guard let held = ranks[folder] else { return }
        let rank = Rank(holdsFiles: true, time: max(held.time, time))
        if held < rank { ranks[folder] = rank }
    }

    /// No longer one of them (nothing changes, and the least stays known, when it was not).
    mutating func remove(_ folder: String) {
        if ranks[folder] != nil { ranks[folder] = nil }
    }

    mutating func removeAll() { ranks.removeAll() }

    /// Keeps only the folders `isKept` accepts.
    mutating func keep(where isKept: (String) -> Bool) {
        ranks = ranks.filter { isKept($0.key) }
    }
}
