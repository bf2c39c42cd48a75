import Foundation
import HTTPServer
import TestSupport
import Testing

/// Deterministic pseudo-random bytes (a 64-bit LCG), so a failure can be reproduced.
private func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}

/// A metrics body of the exporter's shape: the same label set on every line, changing values.
private func metricsLike(lines: Int) -> [UInt8] {
    var text = ""
    for index in 0..<lines {
        text += "# HELP claude_metric_\(index % 17) Help text number \(index % 17).\n"
        text += "claude_metric_\(index % 17){pod=\"agent-0\",repository=\"unknown\"} \(index * 7919 % 100_003)\n"
    }
    return Array(text.utf8)
}

@Suite("gzip for response bodies")
struct GzipTests {
    /// Inputs named by what they exercise (the bytes are built in the test, so the log shows only the name).
    enum Sample: String, CaseIterable {
        case empty, oneByte, everyByteValue, longRun, noise, longerThanTheWindow, repeatsFarApart

        var bytes: [UInt8] {
            switch self {
            case .empty: []
            case .oneByte: [0x41]
            case .everyByteValue: (0...255).map { UInt8($0) } + (0...255).reversed().map { UInt8($0) }
            case .longRun: [UInt8](repeating: 0x61, count: 100_000)  // overlapping distance-1 matches
            case .noise: pseudoRandomBytes(200_000, seed: 42)  // incompressible: literals only
            case .longerThanTheWindow: metricsLike(lines: 4000)  // more than 32 KiB of text
            case .repeatsFarApart:
                {
                    let n = pseudoRandomBytes(40_000, seed: 7)
                    return n + pseudoRandomBytes(1000, seed: 9) + n
                }()
            }
        }
    }

    @Test("gzip -dc (and our own decompress) restore every input exactly", arguments: Sample.allCases)
    func roundTrip(sample: Sample) throws {
        let input = sample.bytes
        let compressed = try #require(Gzip.compress(input))
        #expect(Array(compressed.prefix(3)) == [0x1F, 0x8B, 8])
        #expect(try gunzip(compressed) == input)
        #expect(Gzip.decompress(compressed) == input)
    }

    @Test("Metrics text shrinks to well under a quarter (zlib's dynamic Huffman codes)")
    func ratio() throws {
        let input = metricsLike(lines: 60)
        let compressed = try #require(Gzip.compress(input))
        #expect(compressed.count * 4 < input.count, "\(compressed.count) of \(input.count) bytes")
    }

    @Test("decompress refuses what is not a whole gzip stream, and what inflates past its limit")
    func decompressRefuses() throws {
        let compressed = try #require(Gzip.compress(metricsLike(lines: 60)))
        #expect(Gzip.decompress(Array(compressed.dropLast(3))) == nil)
        #expect(Gzip.decompress(Array("not gzip".utf8)) == nil)
        #expect(Gzip.decompress(compressed + [0]) == nil)
        #expect(Gzip.decompress(compressed, limit: 100) == nil)
    }

    @Test(
        "Accept-Encoding: gzip, x-gzip or * with a weight above 0; an explicit gzip;q=0 wins",
        arguments: [
            (nil, false), ("gzip", true), ("GZIP", true), ("x-gzip", true), ("gzip, deflate, br", true),
            ("br;q=1.0, gzip;q=0.8", true), ("gzip;q=0", false), ("gzip; q=0.000", false), ("deflate, br", false),
            ("identity", false), ("*", true), ("*;q=0", false), ("gzip;q=0, *", false), ("", false),
            ("gzip;q=abc", false), ("gzip;q=2", false), (" , ,gzip", true),
        ] as [(String?, Bool)]
    )
    func negotiation(field: String?, accepted: Bool) {
        let request = HTTPRequest(
            method: "GET",
            path: "/metrics",
            headers: field.map { [("accept-encoding", $0)] } ?? []
        )
        #expect(request.acceptsGzip == accepted, "\(field ?? "no field")")
    }

    @Test("compressed(for:) always adds Vary; it codes only bodies worth it, and only when accepted")
    func compressedResponse() throws {
        let body = metricsLike(lines: 30)
        let response = HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: body)
        let gzip = HTTPRequest(method: "GET", path: "/metrics", headers: [("accept-encoding", "gzip")])
        let plain = HTTPRequest(method: "GET", path: "/metrics")

        let coded = response.compressed(for: gzip)
        #expect(coded.headers.contains { $0 == ("Vary", "Accept-Encoding") })
        #expect(coded.headers.contains { $0 == ("Content-Encoding", "gzip") })
        #expect(try gunzip(coded.body) == body)

        let identity = response.compressed(for: plain)
        #expect(identity.body == body)
        #expect(identity.headers.contains { $0 == ("Vary", "Accept-Encoding") })
        #expect(!identity.headers.contains { $0.name == "Content-Encoding" })

        let small = HTTPResponse.text(200, "OK").compressed(for: gzip)
        #expect(small.body == Array("OK".utf8))
        #expect(!small.headers.contains { $0.name == "Content-Encoding" })
    }

    @Test("Many callers at once: each gets its own compressor's output, exact (the kept one is never shared)")
    func concurrentCallers() async {
        let bodies = (0..<8).map { caller in (0..<2_000).map { UInt8(truncatingIfNeeded: $0 &* (caller + 3)) } }
        let allExact = await withTaskGroup(of: Bool.self) { group in
            for body in bodies {
                group.addTask {
                    (0..<50).allSatisfy { _ in Gzip.compress(body).flatMap { Gzip.decompress($0) } == body }
                }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        #expect(allExact)
    }
}
