import ArgumentParser
import Foundation
import ForwarderCore
import ForwarderSimulation
import Synchronization

/// `forwarder-sim generate`: writes a Blastware ACH folder decided by one seed.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a Blastware Auto Call Home folder: events, reports and noise, all decided by one seed.",
        discussion: """
        Prints the seed and start first, with the command that writes the same folder again. History mode \
        (the default) writes the finished folder with modification times over the simulated period; --live \
        writes as time passes, binaries in growing chunks and reports after their delay.
        """)

    @Option(help: "The folder to write into; created when missing.")
    var into: String

    @Option(help: "Exactly this many events, the earliest by download time.")
    var events: Int?

    @Option(help: "Units calling in (default: the profile's).")
    var units: Int?

    @Option(help: "Simulated days (default: the profile's, or enough for --events).")
    var days: Int?

    @Option(help: "Scale the profile's waveform rates to about this many events per unit per day.")
    var eventsPerUnitPerDay: Double?

    @Option(help: "One of: \(FolderProfile.presets.map(\.name).joined(separator: ", ")).")
    var profile: String = FolderProfile.mixed.name

    @Option(help: "The seed that decides everything (default: derived from the time, and printed).")
    var seed: UInt64?

    @Option(help: "Start of the simulated period in UTC, e.g. 2026-05-01T00:00:00Z (default: history ends now; live starts now).")
    var start: String?

    @Flag(help: "Write as time passes instead of all at once.")
    var live = false

    @Option(help: "With --live: how many simulated seconds pass per real second.")
    var speed: Double = 1

    @Option(help: "Also write the JSON-lines manifest of the events here.")
    var manifest: String?

    @Option(help: "Write a committed fixture's situation (\(FixtureSituation.all.map(\.name).joined(separator: ", "))) with its fixed seed and start.")
    var fixture: String?

    func validate() throws {
        if let fixture, FixtureSituation.named(fixture) == nil {
            throw ValidationError("Unknown fixture '\(fixture)'; use one of \(FixtureSituation.all.map(\.name).joined(separator: ", ")).")
        }
        guard FolderProfile.preset(named: profile) != nil else {
            throw ValidationError("Unknown profile '\(profile)'; use one of \(FolderProfile.presets.map(\.name).joined(separator: ", ")).")
        }
        if events != nil, days != nil { throw ValidationError("Give --events or --days, not both.") }
        if let events, events < 0 { throw ValidationError("--events must not be negative.") }
        if let units, units < 1 { throw ValidationError("--units must be at least 1.") }
        if let days, days < 1 { throw ValidationError("--days must be at least 1.") }
        if let eventsPerUnitPerDay, eventsPerUnitPerDay < 0 {
            throw ValidationError("--events-per-unit-per-day must not be negative.")
        }
        guard speed > 0 else { throw ValidationError("--speed must be positive.") }
        if let start, Self.parseStart(start) == nil {
            throw ValidationError("--start must look like 2026-05-01T00:00:00Z.")
        }
    }

    func run() async throws {
        let clockStart = ContinuousClock.now
        let wallNow = FileTime(Date())
        let chosenSeed = seed ?? Self.seedFromTime(wallNow)
        var options = FolderGenerationOptions(
            seed: chosenSeed, profile: FolderProfile.preset(named: profile) ?? .mixed, unitCount: units,
            dayCount: days, eventCount: events, eventsPerUnitPerDay: eventsPerUnitPerDay, startTime: wallNow)
        let plan: FolderPlan
        if let fixture, let situation = FixtureSituation.named(fixture) {
            options = situation.options
            plan = FolderPlanner.plan(options)
        } else if let start, let parsed = Self.parseStart(start) {
            options.startTime = parsed
            plan = FolderPlanner.plan(options)
        } else if live {
            options.startTime = FileTime(secondsSince1970: wallNow.nanosecondsSince1970 / 1_000_000_000)
            plan = FolderPlanner.plan(options)
        } else {
            plan = FolderPlanner.plan(options, endingAt: wallNow)
        }
        print("seed: \(options.seed)")
        print("start: \(Self.formatStart(plan.periodStart))")
        print("replay: forwarder-sim generate \(replayArguments(seed: options.seed, start: plan.periodStart))")

        let writer = DirectoryFolderWriter(directoryPath: into)
        let progress = ProgressLine(total: max(1, plan.events.count))
        let summary: GenerationSummary
        if live {
            // Written first, so a checker running beside the live folder knows the truth from the start.
            if let manifest { try GenerationManifest.write(plan.manifest(), to: manifest) }
            let periodNanoseconds = Double(max(1, (plan.periodEnd - plan.periodStart).wholeNanoseconds))
            summary = try await writer.writeLive(LiveWriteSchedule(plan: plan), speed: speed) { operation in
                let fraction = Double((operation.time - plan.periodStart).wholeNanoseconds) / periodNanoseconds
                progress.show(fraction: fraction)
            }
        } else {
            let result = try writer.writeHistory(plan) { written in progress.show(completed: written) }
            summary = result.summary
            if let manifest { try GenerationManifest.write(result.manifest, to: manifest) }
        }
        progress.finish()
        let elapsed = (ContinuousClock.now - clockStart).secondsValue
        let megabytes = Double(summary.byteCount) / 1_048_576
        print("events: \(summary.eventCount), reports: \(summary.reportCount), monitor logs: \(summary.monitorLogCount), "
            + "noise files: \(summary.noiseFileCount), bytes: \(summary.byteCount) (\(Self.oneDecimal(megabytes)) MB), "
            + "seconds: \(Self.oneDecimal(elapsed))")
    }

    private func replayArguments(seed: UInt64, start: FileTime) -> String {
        if let fixture { return "--into \(into) --fixture \(fixture)" }
        var arguments = ["--into", into, "--seed", "\(seed)", "--start", Self.formatStart(start), "--profile", profile]
        if let events { arguments += ["--events", "\(events)"] }
        if let units { arguments += ["--units", "\(units)"] }
        if let days { arguments += ["--days", "\(days)"] }
        if let eventsPerUnitPerDay { arguments += ["--events-per-unit-per-day", "\(eventsPerUnitPerDay)"] }
        if live { arguments += ["--live", "--speed", "\(speed)"] }
        if let manifest { arguments += ["--manifest", manifest] }
        return arguments.joined(separator: " ")
    }

    /// A seed from the clock, mixed so that runs a moment apart differ in every bit.
    static func seedFromTime(_ time: FileTime) -> UInt64 {
        var random = SeededRandom(seed: UInt64(bitPattern: time.nanosecondsSince1970))
        return random.next() >> 1
    }

    /// `2026-05-01T00:00:00Z` (or without the `Z`) as a file time.
    static func parseStart(_ text: String) -> FileTime? {
        let trimmed = text.hasSuffix("Z") ? String(text.dropLast()) : text
        let parts = trimmed.split(whereSeparator: { "-T:".contains($0) }).map { Int($0) }
        guard parts.count == 6, parts.allSatisfy({ $0 != nil }) else { return nil }
        let fields = parts.compactMap { $0 }
        guard (1...12).contains(fields[1]), (1...31).contains(fields[2]), (0...23).contains(fields[3]),
              (0...59).contains(fields[4]), (0...59).contains(fields[5]) else { return nil }
        let civil = SimCivilTime(year: fields[0], month: fields[1], day: fields[2],
                                  hour: fields[3], minute: fields[4], second: fields[5])
        return FileTime(secondsSince1970: Int64(civil.secondsSince1985) + 473_385_600)
    }

    static func formatStart(_ time: FileTime) -> String {
        let seconds = time.nanosecondsSince1970 / 1_000_000_000 - 473_385_600
        return SimCivilTime(secondsSince1985: Int(seconds)).description + "Z"
    }

    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// A percentage line on standard error, redrawn in place at most every whole percent.
final class ProgressLine: Sendable {
    private let total: Int
    private let lastPercent = Mutex(-1)

    init(total: Int) { self.total = total }

    func show(completed: Int) { show(fraction: Double(completed) / Double(total)) }

    func show(fraction: Double) {
        let percent = min(100, max(0, Int(fraction * 100)))
        let changed = lastPercent.withLock { last in
            guard percent != last else { return false }
            last = percent
            return true
        }
        guard changed else { return }
        let filled = percent / 5
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(percent)%".utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
