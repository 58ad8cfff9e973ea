import ForwarderCore
import Testing

@Suite("Event names")
struct EventNameTests {
    struct WorkedExample: Sendable, CustomTestStringConvertible {
        var name: String
        var serial: String
        var time: CivilDateTime
        var kind: BlastwareEventName.Kind
        var testDescription: String { name }
    }

    // domain.md §2, worked checks.
    static let workedExamples = [
        WorkedExample(name: "T190LD5Q.LK0W", serial: "BE18190",
                      time: CivilDateTime(year: 2025, month: 12, day: 9, hour: 11, minute: 0, second: 56), kind: .waveform),
        WorkedExample(name: "N844L20G.630H", serial: "BE12844",
                      time: CivilDateTime(year: 2025, month: 5, day: 6, hour: 18, minute: 18, second: 3), kind: .histogram),
        WorkedExample(name: "M529LIY6.N00", serial: "BE11529",
                      time: CivilDateTime(year: 2026, month: 4, day: 1, hour: 0, minute: 28, second: 12), kind: .manual),
    ]

    @Test("Names: worked examples decode to serial, time and kind", arguments: workedExamples)
    func decodesWorkedExamples(example: WorkedExample) throws {
        let name = try #require(BlastwareEventName(parsing: example.name))
        #expect(name.unitSerial == example.serial)
        #expect(name.localTime == example.time)
        #expect(name.kind == example.kind)
    }

    @Test("Names: worked examples re-encode to the same name", arguments: workedExamples)
    func reencodesWorkedExamples(example: WorkedExample) throws {
        let serialNumber = try #require(Int(example.serial.dropFirst(2)))
        let name = try #require(BlastwareEventName(serialNumber: serialNumber,
                                                   secondsSince1985: example.time.secondsSince1985, kind: example.kind))
        #expect(name.fileName == example.name)
    }

    @Test("Names: lower-case names decode like upper-case ones")
    func lowerCase() throws {
        let lower = try #require(BlastwareEventName(parsing: "t190ld5q.lk0w"))
        #expect(lower.fileName == "T190LD5Q.LK0W")
        #expect(lower.kind == .waveform)
    }

    @Test("Names: prefix letters follow the serial thousands",
          arguments: [(6907, "H"), (11529, "M"), (14036, "P"), (17353, "S"), (18003, "T"), (9558, "K")])
    func prefixLetters(serial: Int, letter: String) throws {
        let name = try #require(BlastwareEventName(serialNumber: serial, secondsSince1985: 0, kind: .waveform))
        #expect(name.fileName.hasPrefix(letter))
        #expect(BlastwareEventName(parsing: name.fileName)?.serialNumber == serial)
    }

    @Test("Names: stems of new year's days", arguments: [(2024, "KCPS"), (2025, "KVJK"), (2026, "LEBH"), (2027, "LX3E")])
    func yearStems(year: Int, stem: String) throws {
        let seconds = CivilDateTime(year: year, month: 1, day: 1).secondsSince1985
        let name = try #require(BlastwareEventName(serialNumber: 11529, secondsSince1985: seconds, kind: .histogram))
        #expect(name.stem == "M529" + stem)
    }

    @Test("Names: a unit whose clock reset reports 1995")
    func rtcReset() throws {
        let name = try #require(BlastwareEventName(parsing: "M52957UY.O00"))
        #expect(name.localTime.year == 1995)
        #expect(name.localTime.month == 1)
        #expect(name.localTime.day == 1)
    }

    @Test("Names: round trip over many times and serials")
    func roundTrip() throws {
        var seconds = 0
        while seconds < BlastwareEventName.maximumSecondsSince1985 {
            for serial in [0, 999, 1000, 12844, 24_999] {
                for kind in [BlastwareEventName.Kind.waveform, .histogram, .manual] {
                    let name = try #require(BlastwareEventName(serialNumber: serial, secondsSince1985: seconds, kind: kind))
                    let decoded = try #require(BlastwareEventName(parsing: name.fileName))
                    #expect(decoded == name)
                    #expect(CivilDateTime(secondsSince1985: seconds).secondsSince1985 == seconds)
                }
            }
            seconds += 7_777_777
        }
    }

    @Test("Names: what cannot be encoded or decoded is refused")
    func refusals() {
        #expect(BlastwareEventName(serialNumber: 25_000, secondsSince1985: 0, kind: .waveform) == nil)
        #expect(BlastwareEventName(serialNumber: 1, secondsSince1985: -1, kind: .waveform) == nil)
        for bad in ["T190LD5Q", "T190LD5Q.LK", "T19XLD5Q.LK0W", "A190LD5Q.LK0W", "T190LD5Q-LK0W", "T190LD5Q.LK0WX", "T190LD5_.LK0W"] {
            #expect(BlastwareEventName(parsing: bad) == nil, "\(bad)")
        }
    }
}

@Suite("Event file rules")
struct EventFileRulesTests {
    @Test("Names: event binaries of every kind and case are recognised",
          arguments: ["T190LD5Q.LK0W", "N844L20G.630H", "M529LIY6.N00", "t190ld5q.lk0w", "S353L4H0.3M0W", "P036L318.C80H"])
    func eventBinaries(name: String) {
        #expect(EventFileRules.isEventBinary(name))
    }

    @Test("Names: documents, logs and noise with event-like names are not binaries",
          arguments: ["M529LK44.PDF", "M529LK44.XML", "M529LK44.WMF", "M529LK44.TXT", "m529lk44.mlg", "M529LK44.MLG",
                      "M529LK44.LOG", "M529LK44.INI", "M529LK44.DAT", "M529LK44.BAK", "M529LK44.TMP", "M529LK44.CSV",
                      "M529LK44.JSON", "M529LK44.HTML", "Thumbs.db", "desktop.ini", "BE11529.MLG",
                      "N844L20G_630H_ASCII.TXT", "T190LD5Q.LK0W.TXT", "T190LD5Q.LK0W.tmp", "1190LD5Q.LK0W",
                      "T19OLD5Q.LK0W", "T190LD5Q.L-0W", "T190LD5Q.LK0WW", " T190LD5Q.LK0", "T190LD5Q.LK"])
    func notBinaries(name: String) {
        #expect(!EventFileRules.isEventBinary(name))
    }

    @Test("Pairing: the ACH report name comes before the manual export name")
    func reportNameOrder() {
        #expect(EventFileRules.reportNames(forBinary: "N844L20G.630H") == ["N844L20G_630H_ASCII.TXT", "N844L20G.630H.TXT"])
        #expect(EventFileRules.reportNames(forBinary: "m529liy6.n00") == ["m529liy6_n00_ASCII.TXT", "m529liy6.n00.TXT"])
    }

    @Test("Pairing: case folding touches ASCII letters only")
    func caseFolding() {
        #expect(EventFileRules.caseFoldedKey("n844l20g_630h_ascii.txt") == "N844L20G_630H_ASCII.TXT")
        #expect(EventFileRules.isReportName("n844l20g.630h.txt"))
        #expect(!EventFileRules.isReportName("n844l20g.630h"))
    }
}
