import FileWatching
import InMemoryLogging
import Logging
import Platform
import Testing

@testable import ExporterCore

private func parse(_ text: String, file: String = "4242.json") -> Result<RegistryEntry, RegistryEntry.Problem> {
    RegistryEntry.parse(Array(text.utf8), fileName: file, modified: Timestamp(seconds: 500))
}

private let current = """
    {"pid":4242,"sessionId":"0b5e2c1a-1234-4abc-9def-0123456789ab","cwd":"/home/agent/repo","status":"busy",\
    "statusUpdatedAt":1764000000123,"updatedAt":1764000000123,"startedAt":1763999990000,"procStart":"987654",\
    "version":"2.1.140","kind":"interactive","entrypoint":"cli"}
    """

@Suite("Reading Claude Code's session registry")
struct SessionRegistryParsingTests {
    @Test("A current-generation entry")
    func currentGeneration() throws {
        let entry = try parse(current).get()
        #expect(entry.pid == 4242)
        #expect(entry.sessionID == "0b5e2c1a-1234-4abc-9def-0123456789ab")
        #expect(entry.cwd == "/home/agent/repo")
        #expect(entry.status == .busy)
        #expect(entry.processStart == 987_654)
        #expect(entry.statusUpdatedAt == Timestamp(seconds: 1_764_000_000, nanoseconds: 123_000_000))
        #expect(entry.modified == Timestamp(seconds: 500))
    }

    @Test("The older generation (pid-<n>.json, session_id and cwd only) is not an entry")
    func olderGeneration() {
        let result = parse(#"{"session_id":"x","cwd":"/r"}"#, file: "pid-12.json")
        #expect(result == .failure(.notAnEntry("no status")))
    }

    @Test("A partial file (a write in progress) is malformed, not an error storm")
    func partial() {
        for cut in [1, 10, 50, current.utf8.count - 1] {
            guard case .failure(.malformed) = parse(String(current.utf8.prefix(cut))!) else {
                Issue.record("prefix of \(cut) bytes was not reported as malformed")
                continue
            }
        }
        #expect(parse("") == .failure(.malformed("expected an object at byte 0")))
    }

    @Test("Unknown statuses count as unknown; each known one is read")
    func statuses() throws {
        for status in ["idle", "busy", "waiting", "shell"] {
            let text = #"{"pid":1,"status":"\#(status)","procStart":"5"}"#
            #expect(try parse(text).get().status == AgentStatus(rawValue: status))
        }
        let future = try parse(#"{"pid":1,"status":"compacting","procStart":"5"}"#).get()
        #expect(future.status == .unknown)
        #expect(future.rawStatus == "compacting")
        #expect(try parse(#"{"pid":1,"status":"unknown","procStart":"5"}"#).get().status == .unknown)
    }

    @Test("Missing keys and wrong types never crash")
    func wrongTypes() throws {
        #expect(parse(#"{"pid":1,"status":"busy"}"#) == .failure(.notAnEntry("no usable procStart")))
        #expect(parse(#"{"pid":1,"status":"busy","procStart":true}"#) == .failure(.notAnEntry("no usable procStart")))
        #expect(parse(#"{"pid":1,"status":"busy","procStart":"12x"}"#) == .failure(.notAnEntry("no usable procStart")))
        #expect(parse(#"{"pid":1,"status":null,"procStart":"1"}"#) == .failure(.notAnEntry("no status")))
        // A status of the wrong type is an unknown status, not a dropped file.
        #expect(try parse(#"{"pid":1,"status":7,"procStart":"1"}"#).get().status == .unknown)
        // The pid comes from the file name only when the file has none; an unusable one makes no entry.
        #expect(try parse(#"{"status":"idle","procStart":"1"}"#, file: "77.json").get().pid == 77)
        for pid in [#""x""#, "0", "-5", "2.5", "1e300", "2147483648", "null", "[1]"] {
            #expect(
                parse(#"{"pid":\#(pid),"status":"idle","procStart":"1"}"#, file: "77.json")
                    == .failure(.notAnEntry("invalid pid")),
                "pid \(pid)"
            )
        }
        #expect(parse(#"{"status":"idle","procStart":"1"}"#, file: "x.json") == .failure(.notAnEntry("no usable pid")))
        // Numbers where strings were expected are ignored; procStart as a number is accepted.
        let entry = try parse(#"{"pid":3,"status":"idle","procStart":42,"cwd":5,"sessionId":[1,{"a":2}]}"#).get()
        #expect(entry.processStart == 42)
        #expect(entry.cwd == "")
        #expect(entry.sessionID == "")
    }

    @Test("Strings with escapes, nested values, and malformed JSON")
    func jsonDetails() throws {
        let entry = try parse(
            #"{"pid":2,"status":"idle","procStart":"1","cwd":"/h\u00e9\"x\\y\ud83d\ude00","x":{"y":[1,2,{"z":null}]}}"#
        ).get()
        #expect(entry.cwd == "/hé\"x\\y😀")
        for bad in [
            #"{"pid":1,}"#, #"{"pid":01x}"#, #"[1]"#, #"{"a":"\q"}"#, #"{"a":1} trailing"#, "{\"a\":\"\u{1}\"}",
        ] {
            guard case .failure(.malformed) = parse(bad) else {
                Issue.record("\(bad) was not malformed")
                continue
            }
        }
    }
}

@Suite("Hostile registry files")
struct HostileRegistryFileTests {
    @Test(
        "Any number as statusUpdatedAt or procStart: no trap, and times past the year 3,170,000 are no time",
        arguments: [
            "1e300", "-1e300", "9.3e21", "9223372036854775807", "18446744073709551616", "1e17", "-1", "0",
            "1.7976931348623157e308", "5e-324", "99999999999999999999999999999",
        ]
    )
    func extremeNumbers(number: String) throws {
        let entry = try parse(#"{"pid":9,"status":"busy","procStart":"1","statusUpdatedAt":\#(number)}"#).get()
        #expect(entry.statusUpdatedAt == nil)
        // And the arithmetic done with an entry later never traps either.
        let processes = FakeProcessTable(seesOtherProcesses: false)
        _ = entry.liveness(processes: processes, readAt: .latest, now: .earliest, freshness: 1e300)
        _ = parse(#"{"pid":9,"status":"busy","procStart":\#(number)}"#)
    }

    @Test("The largest accepted time converts exactly, and time arithmetic saturates instead of trapping")
    func largestTime() throws {
        let entry = try parse(#"{"pid":9,"status":"busy","procStart":"1","statusUpdatedAt":99999999999999000}"#).get()
        #expect(entry.statusUpdatedAt?.seconds == 99_999_999_999_999)
        #expect(Timestamp.latest.seconds(since: .earliest) > 1e19)
        #expect(Timestamp(seconds: 1).adding(seconds: 1e300) == .latest)
        #expect(Timestamp(seconds: 1).adding(seconds: -.infinity) == .earliest)
        #expect(Timestamp.latest.adding(seconds: 1) == .latest)
        #expect(Timestamp(seconds: 5).adding(seconds: .nan) == Timestamp(seconds: 5))
    }

    @Test("Strings are kept bounded, cut on a character boundary")
    func boundedStrings() throws {
        let long = String(repeating: "é", count: 40_000)
        let entry = try parse(#"{"pid":9,"status":"\#(long)","procStart":"1","cwd":"\#(long)","sessionId":"\#(long)"}"#)
            .get()
        #expect(entry.cwd.utf8.count <= RegistryEntry.maxDirectoryBytes)
        #expect(entry.sessionID.utf8.count <= RegistryEntry.maxSessionIDBytes)
        #expect(entry.rawStatus.utf8.count <= RegistryEntry.maxStatusBytes)
        #expect(entry.cwd.hasSuffix("é…"))
        #expect(entry.status == .unknown)
    }
}

@Suite("Liveness of registry entries")
struct LivenessTests {
    let entry = RegistryEntry(
        pid: 100,
        status: .busy,
        statusUpdatedAt: Timestamp(seconds: 1_000),
        processStart: 555,
        modified: Timestamp(seconds: 900)
    )

    private func liveness(
        _ entry: RegistryEntry,
        _ processes: FakeProcessTable,
        readAt: Int64 = 99_999,
        now: Int64
    ) -> RegistryEntry.Liveness {
        entry.liveness(
            processes: processes,
            readAt: Timestamp(seconds: readAt),
            now: Timestamp(seconds: now),
            freshness: 60
        )
    }

    @Test("Live while the pid runs with the registered start time")
    func alive() {
        let processes = FakeProcessTable()
        processes.start(100, ticks: 555)
        #expect(liveness(entry, processes, now: 99_999) == .running)
    }

    @Test("A reused pid (another start time) is not the registered process")
    func reused() {
        let processes = FakeProcessTable()
        processes.start(100, ticks: 556)
        #expect(liveness(entry, processes, now: 1_000) == .dead)
    }

    @Test("Where other processes are visible, a missing pid is dead")
    func gone() {
        #expect(liveness(entry, FakeProcessTable(), now: 1_000) == .dead)
    }

    @Test("Where pids cannot be checked, live only while the status is fresh")
    func invisible() {
        let processes = FakeProcessTable(seesOtherProcesses: false)
        #expect(liveness(entry, processes, now: 1_059) == .fresh(until: Timestamp(seconds: 1_060)))
        #expect(liveness(entry, processes, now: 1_061) == .dead)
        var noUpdate = entry
        noUpdate.statusUpdatedAt = nil
        #expect(liveness(noUpdate, processes, now: 950).isLive)
        #expect(!liveness(noUpdate, processes, now: 961).isLive)
    }

    @Test("A look-up that fails (out of descriptors) proves nothing: running until a check can tell")
    func unknownLookUp() {
        let processes = FakeProcessTable()
        processes.failLookUps(true)
        #expect(liveness(entry, processes, now: 1_000) == .running)
        processes.failLookUps(false)
        #expect(liveness(entry, processes, now: 1_000) == .dead)
    }

    @Test("A status time in the future counts as the time it was read, then ages")
    func futureTime() {
        let processes = FakeProcessTable(seesOtherProcesses: false)
        var future = entry
        future.statusUpdatedAt = Timestamp(seconds: 1_000 + 10 * 365 * 86_400)
        #expect(liveness(future, processes, readAt: 1_000, now: 1_000) == .fresh(until: Timestamp(seconds: 1_060)))
        #expect(liveness(future, processes, readAt: 1_000, now: 1_061) == .dead)
    }

    @Test("An entry naming this exporter is never live; pid 1 of another namespace falls back to freshness")
    func ownProcess() {
        let processes = FakeProcessTable(ownProcessID: 100)
        processes.start(100, ticks: 555)
        #expect(liveness(entry, processes, now: 1_000) == .dead)
        // A sidecar is pid 1 of its own namespace; Claude, the agent container's entrypoint, is pid 1 of
        // another. Its file names pid 1 with another start time: not this process, and not provably dead.
        let sidecar = FakeProcessTable(seesOtherProcesses: false, ownProcessID: 100)
        sidecar.start(100, ticks: 1)
        #expect(liveness(entry, sidecar, now: 1_000).isLive)
    }
}
