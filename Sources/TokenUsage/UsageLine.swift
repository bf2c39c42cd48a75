import CSearch

#if canImport(Glibc)
import Glibc
#endif

/// One transcript line read for token usage: what ccusage would count from it, or why it counts nothing.
///
/// The rules (ccusage's `data-loader.ts`, whose schema users trust): a line counts when it is a JSON object whose
/// `message.usage` holds numeric `input_tokens` and `output_tokens`; `cache_creation_input_tokens` and
/// `cache_read_input_tokens` are optional; `timestamp` must be an ISO time ending in `Z`; the optional fields
/// (`version`, `message.id`, `message.model`, `requestId`, `costUSD`, `isApiErrorMessage`, `usage.speed`), when
/// present, must have their type, or the whole line is rejected. `message.id` + `requestId` (both present) name
/// the API response for de-duplication. A `speed` of `fast` makes the model `<model>-fast`, as ccusage prices it.
///
/// Token counts must be integers from 0 to 2^32 (ccusage accepts any number; Claude Code writes only these).
public enum UsageLine {
    /// What a line holds.
    public enum Verdict: Equatable, Sendable {
        /// Not a usage line: no `"usage"` in it, or valid JSON without `message.usage`.
        case irrelevant
        /// It names usage but cannot be counted (`claude_exporter_transcript_lines_skipped_total`).
        case skipped(SkipReason)
        case usage(UsageRecord)
    }

    public enum SkipReason: String, Equatable, Sendable, CaseIterable {
        /// Not JSON (RFC 8259, UTF-8), or nested deeper than ``maximumDepth``.
        case malformed
        /// Valid JSON with `message.usage`, but a field ccusage requires is missing or has the wrong type.
        case schema
        /// Longer than the line cap: never held in memory.
        case tooLong = "too_long"
    }

    /// A model name longer than this, or with a byte that is not printable ASCII, is counted as ``otherModel``.
    public static let maximumModelBytes = 128
    /// The model label of lines whose model name is not one (see ``maximumModelBytes``), and of models past
    /// ``UsageLedger/maximumModels``.
    public static let otherModel = "other"

    /// Deeper nesting is rejected (as malformed) instead of recursing without bound.
    public static let maximumDepth = 256

    /// The bytes `"usage"`: a line without them cannot hold `message.usage` (a quote inside a JSON string is always
    /// escaped, so these bytes only occur as a whole string token), and is not parsed at all. That is what makes
    /// reading history fast: most bytes are tool results in user lines. A key spelled with escapes
    /// (`"\u0075sage"`) is missed; JavaScript's `JSON.stringify`, which writes every transcript, never escapes a
    /// letter.
    static let marker: [UInt8] = Array("\"usage\"".utf8)

    /// Reads one line (without its newline). With `models`, model names already seen are not allocated again.
    public static func read(_ line: UnsafeRawBufferPointer, models: ModelNames? = nil) -> Verdict {
        guard Search.contains(line, marker) else { return .irrelevant }
        guard line.count <= Int(Int32.max) else { return .skipped(.tooLong) }
        var parser = UsageParser(line, names: models)
        return parser.parseLine()
    }

    /// Reads one line (without its newline).
    public static func read(_ line: [UInt8]) -> Verdict {
        line.withUnsafeBytes { read($0) }
    }
}

/// Model names as `String`s, made once: a transcript repeats a handful of names on every line, and making a `String`
/// of more than 15 bytes allocates. Bounded: past ``limit`` names, new ones are made each time (not kept).
public final class ModelNames {
    private var names: [(bytes: [UInt8], name: String)] = []
    public static let limit = 64

    public init() {}

    func name(for bytes: UnsafeRawBufferPointer) -> String {
        for entry in names where entry.bytes.count == bytes.count {
            if entry.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) }) == 0 {
                return entry.name
            }
        }
        let name = String(decoding: bytes, as: UTF8.self)
        if names.count < Self.limit { names.append((Array(bytes), name)) }
        return name
    }
}

/// The usage of one transcript line.
public struct UsageRecord: Equatable, Sendable {
    /// The model, with `-fast` appended for `speed: "fast"`; `nil` when the line names none (`model="unknown"`).
    public var model: String?
    /// A 64-bit hash of `message.id` and `requestId` when both are present: the response, for de-duplication.
    public var response: UInt64?
    public var tokens: TokenCounts

    public init(model: String?, response: UInt64?, tokens: TokenCounts) {
        self.model = model
        self.response = response
        self.tokens = tokens
    }
}

/// Token counts of one response, or sums of many.
public struct TokenCounts: Equatable, Sendable {
    public var input: UInt64
    public var output: UInt64
    public var cacheCreation: UInt64
    public var cacheRead: UInt64

    public init(input: UInt64 = 0, output: UInt64 = 0, cacheCreation: UInt64 = 0, cacheRead: UInt64 = 0) {
        self.input = input
        self.output = output
        self.cacheCreation = cacheCreation
        self.cacheRead = cacheRead
    }

    /// All four: what ccusage compares to choose among the lines of one response.
    public var total: UInt64 { input &+ output &+ cacheCreation &+ cacheRead }
    /// How full the context was: input plus cache creation plus cache read.
    public var context: UInt64 { input &+ cacheCreation &+ cacheRead }

    /// Saturating: a counter that wrapped would look to Prometheus like a reset.
    public static func += (left: inout TokenCounts, right: TokenCounts) {
        left.input = saturating(left.input, right.input)
        left.output = saturating(left.output, right.output)
        left.cacheCreation = saturating(left.cacheCreation, right.cacheCreation)
        left.cacheRead = saturating(left.cacheRead, right.cacheRead)
    }

    static func saturating(_ left: UInt64, _ right: UInt64) -> UInt64 {
        let (sum, overflow) = left.addingReportingOverflow(right)
        return overflow ? .max : sum
    }
}

/// Byte search over raw memory (glibc's `memmem`, vectorised).
enum Search {
    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard let base = haystack.baseAddress, haystack.count >= needle.count else { return false }
        return needle.withUnsafeBytes { cme_memmem(base, haystack.count, $0.baseAddress, $0.count) } != nil
    }
}
