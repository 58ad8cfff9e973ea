import ForwarderCore
import ForwarderSimulation
import Foundation
import Synchronization

/// Events and their reports arriving in the soak's folder while the forwarder runs, round after
/// round, until asked to stop.
///
/// Each round is a live plan of a few events written by `LiveTailWriter`: binaries grow in
/// chunks, reports follow after their (capped) delay, so some reports arrive after the
/// forwarder's grace and are sent late. A round starts a day after the previous round's last
/// event in simulated time, so no two rounds share an event name. A round is finished before
/// stopping, so every event in `manifest` was written whole.
final class SoakArrivals: Sendable {
    let folderPath: String
    let seed: UInt64
    let eventsPerRound: Int
    let writer: LiveTailWriter
    private let stopRequested = Mutex(false)
    private let written = Mutex<[ManifestEntry]>([])

    init(folderPath: String, seed: UInt64, eventsPerRound: Int, speed: Double, maximumQuietGap: Duration) {
        self.folderPath = folderPath
        self.seed = seed
        self.eventsPerRound = eventsPerRound
        writer = LiveTailWriter(directoryPath: folderPath, speed: speed, maximumQuietGap: maximumQuietGap)
    }

    /// Every event of the rounds finished so far.
    var manifest: [ManifestEntry] { written.withLock { $0 } }

    /// Asks the rounds to stop after the one being written.
    func stop() { stopRequested.withLock { $0 = true } }

    /// Writes rounds until `stop()`; returns the number of rounds.
    func run(startingAt start: FileTime) async throws -> Int {
        var roundStart = start
        var round = 0
        let random = SeededRandom(seed: seed).derived("soak-arrivals")
        while !stopRequested.withLock({ $0 }) {
            round += 1
            var roundRandom = random.derived("round \(round)")
            let options = FolderGenerationOptions(seed: roundRandom.next(), profile: .mixed,
                                                  eventCount: eventsPerRound, startTime: roundStart)
            let plan = FolderPlanner.plan(options)
            let entries = plan.manifest()
            _ = try await writer.write(LiveWriteSchedule(plan: plan))
            written.withLock { $0 += entries }
            roundStart = (plan.events.map(\.downloadStart).max() ?? roundStart) + .seconds(86_400)
        }
        return round
    }
}
