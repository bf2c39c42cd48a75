/// The token counters: sums per model of every counted response, with the de-duplication that keeps them exact.
///
/// A response is counted once, however many lines repeat it (one per content block, and again in a resumed
/// session's copy): lines naming the same `message.id` + `requestId` are one response. Among them the largest
/// wins, as in ccusage today: Claude Code may write a response's first blocks with the output counted so far and
/// the last with the final count, so a later line of a recent response with a larger total raises the counters by
/// the difference (per type, never down). Lines without both ids are each counted.
///
/// Memory: the set of counted responses holds 8 bytes per response (kept 53 to 80 % full: 10 to 15 MB per
/// million responses); the largest-wins comparison keeps full counts for recent responses only (``recentLimit`` slots),
/// since the lines of one response are written within seconds of each other (a resumed copy repeats final counts).
public struct UsageLedger: Sendable {
    /// The counters of one model.
    public struct ModelUsage: Equatable, Sendable {
        public var tokens = TokenCounts()
        /// De-duplicated responses (`claude_assistant_messages_total`).
        public var messages: UInt64 = 0

        public init(tokens: TokenCounts = TokenCounts(), messages: UInt64 = 0) {
            self.tokens = tokens
            self.messages = messages
        }

        mutating func count(_ response: TokenCounts) {
            tokens += response
            messages = TokenCounts.saturating(messages, 1)
        }
    }

    /// Sums per model (`unknown` for lines that name none).
    public private(set) var models: [String: ModelUsage] = [:]
    /// Lines skipped, by reason (``UsageLine/SkipReason`` order).
    public private(set) var skipped = [UInt64](repeating: 0, count: UsageLine.SkipReason.allCases.count)
    private var counted = ResponseSet()
    private var recent = RecentResponses()

    /// How many slots keep full counts of recent responses for the largest-wins rule.
    public static let recentLimit = 1024

    /// The model label of a line that names none.
    public static let unknownModel = "unknown"
    /// At most this many model labels (each is a series per type): a transcript naming more, by mistake or on
    /// purpose, cannot blow up Prometheus' series count; the rest are counted as ``otherModels``.
    public static let maximumModels = 100
    public static let otherModels = UsageLine.otherModel

    public init() {}

    /// Responses counted (de-duplicated, with their ids).
    public var responses: Int { counted.count }
    /// Bytes held by the de-duplication tables.
    public var memoryBytes: Int { counted.memoryBytes + recent.memoryBytes }

    /// Lines skipped for `reason`.
    public func skipped(_ reason: UsageLine.SkipReason) -> UInt64 {
        skipped[UsageLine.SkipReason.allCases.firstIndex(of: reason)!]
    }

    /// Counts one line; returns true if any counter changed.
    @discardableResult
    public mutating func add(_ verdict: UsageLine.Verdict) -> Bool {
        switch verdict {
        case .irrelevant:
            return false
        case .skipped(let reason):
            skipped[UsageLine.SkipReason.allCases.firstIndex(of: reason)!] &+= 1
            return true
        case .usage(let record):
            return add(record)
        }
    }

    /// Counts one usage record; returns true if any counter changed.
    @discardableResult
    public mutating func add(_ record: UsageRecord) -> Bool {
        var model = record.model ?? Self.unknownModel
        if models.count >= Self.maximumModels && models[model] == nil { model = Self.otherModels }
        guard let response = record.response else {
            models[model, default: ModelUsage()].count(record.tokens)
            return true
        }
        if counted.insert(response) {
            models[model, default: ModelUsage()].count(record.tokens)
            recent.remember(response, model: model, tokens: record.tokens)
            return true
        }
        guard let earlier = recent[response], record.tokens.total > earlier.tokens.total else { return false }
        let raised = TokenCounts(
            input: max(earlier.tokens.input, record.tokens.input),
            output: max(earlier.tokens.output, record.tokens.output),
            cacheCreation: max(earlier.tokens.cacheCreation, record.tokens.cacheCreation),
            cacheRead: max(earlier.tokens.cacheRead, record.tokens.cacheRead)
        )
        models[earlier.model, default: ModelUsage()].tokens += TokenCounts(
            input: raised.input - earlier.tokens.input,
            output: raised.output - earlier.tokens.output,
            cacheCreation: raised.cacheCreation - earlier.tokens.cacheCreation,
            cacheRead: raised.cacheRead - earlier.tokens.cacheRead
        )
        recent.remember(response, model: earlier.model, tokens: raised)
        return true
    }
}

/// A set of 64-bit response hashes: open addressing with linear probing, 8 bytes per slot, grown by half when
/// 80 % full. Zero marks an empty slot (a hash of zero is stored as one).
struct ResponseSet: Sendable {
    /// Allocated with the first response (1,024 slots), then grown.
    private var slots: [UInt64] = []
    private(set) var count = 0

    var memoryBytes: Int { slots.capacity * 8 }

    /// Adds `hash`; true if it was not there.
    mutating func insert(_ hash: UInt64) -> Bool {
        let key = hash == 0 ? 1 : hash
        if slots.isEmpty { slots = [UInt64](repeating: 0, count: 1024) }
        if (count + 1) * 5 > slots.count * 4 { grow() }
        return slots.withUnsafeMutableBufferPointer { slots in
            var index = Self.home(key, slots.count)
            while true {
                let slot = slots[index]
                if slot == key { return false }
                if slot == 0 {
                    slots[index] = key
                    count += 1
                    return true
                }
                index += 1
                if index == slots.count { index = 0 }
            }
        }
    }

    func contains(_ hash: UInt64) -> Bool {
        guard !slots.isEmpty else { return false }
        let key = hash == 0 ? 1 : hash
        var index = Self.home(key, slots.count)
        while true {
            if slots[index] == key { return true }
            if slots[index] == 0 { return false }
            index += 1
            if index == slots.count { index = 0 }
        }
    }

    /// The slot a key starts probing from: the high half of `key × capacity` (no power-of-two capacity needed).
    private static func home(_ key: UInt64, _ capacity: Int) -> Int {
        Int(key.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count + old.count / 2)
        count = 0
        for key in old where key != 0 { _ = insert(key) }
    }
}

/// Full counts of recent responses for the largest-wins rule: a direct-mapped table of ``UsageLedger/recentLimit``
/// slots, indexed by the response hash (already well mixed), a newer response taking the slot of an older one. No
/// allocation per line, and a fixed 57 KB.
struct RecentResponses: Sendable {
    struct Entry: Sendable {
        var response: UInt64 = 0
        var model = ""
        var tokens = TokenCounts()
    }

    /// Allocated with the first response that has ids: an exporter whose transcripts hold no usage spends nothing.
    private var entries: [Entry] = []

    var memoryBytes: Int { entries.capacity * MemoryLayout<Entry>.stride }

    private static func slot(_ response: UInt64) -> Int { Int(response % UInt64(UsageLedger.recentLimit)) }

    subscript(_ response: UInt64) -> Entry? {
        guard !entries.isEmpty else { return nil }
        let entry = entries[Self.slot(response)]
        return entry.response == response && !entry.model.isEmpty ? entry : nil
    }

    mutating func remember(_ response: UInt64, model: String, tokens: TokenCounts) {
        if entries.isEmpty { entries = [Entry](repeating: Entry(), count: UsageLedger.recentLimit) }
        entries[Self.slot(response)] = Entry(response: response, model: model, tokens: tokens)
    }
}
